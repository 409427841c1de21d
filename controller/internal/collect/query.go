package collect

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// QueryStore is what the queries read.
type QueryStore interface {
	Store
	Monitor(nameOrID string) (*pb.Monitor, error)
	Rollups(monitor, checkpoint string, from, to time.Time) ([]store.Rollup, error)
}

var _ QueryStore = (*store.Store)(nil)

// Windows are the spans MonitorStatus reports, longest last.
var Windows = []struct {
	Name string
	Span time.Duration
}{{"24h", 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}, {"30d", 30 * 24 * time.Hour}}

// Queries answers questions about stored results. Its methods are plain functions for in-process
// callers (the web console); QueryService serves them over gRPC.
type Queries struct {
	Store QueryStore
	Now   func() time.Time // default time.Now
}

// ErrUnknownMonitor is returned for a monitor name that does not exist.
var ErrUnknownMonitor = errors.New("no such monitor")

// LastResults returns the latest result of each monitor × checkpoint (of one monitor when monitor
// is not empty), by monitor then checkpoint name. Only current monitors and checkpoints count.
func (q *Queries) LastResults(monitor string) ([]*pb.RunResult, error) {
	allowed, err := q.pairs(monitor)
	if err != nil {
		return nil, err
	}
	out, err := q.Store.LatestResults(monitor, func(m, cp string) bool { return allowed[pairKey{m, cp}] })
	if err != nil {
		return nil, fmt.Errorf("reading the latest results: %w", err)
	}
	slices.SortFunc(out, func(a, b *pb.RunResult) int {
		return strings.Compare(a.MonitorName+"\x00"+a.CheckpointName, b.MonitorName+"\x00"+b.CheckpointName)
	})
	return out, nil
}

func (q *Queries) pairs(monitor string) (map[pairKey]bool, error) {
	var ms []*pb.Monitor
	if monitor != "" {
		m, err := q.monitor(monitor)
		if err != nil {
			return nil, err
		}
		ms = []*pb.Monitor{m}
	} else {
		var err error
		if ms, err = q.Store.Monitors(); err != nil {
			return nil, fmt.Errorf("listing monitors: %w", err)
		}
	}
	out := map[pairKey]bool{}
	for _, m := range ms {
		for _, cp := range m.Checkpoints {
			out[pairKey{m.Name, cp}] = true
		}
	}
	return out, nil
}

func (q *Queries) monitor(name string) (*pb.Monitor, error) {
	m, err := q.Store.Monitor(name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("monitor %q: %w; `monitor list` shows the monitors", name, ErrUnknownMonitor)
	}
	if err != nil {
		return nil, fmt.Errorf("reading monitor %q: %w", name, err)
	}
	return m, nil
}

// MonitorStatus returns a monitor's latest result per checkpoint and its uptime and duration
// percentiles over each of Windows, per checkpoint and for all together, from hourly rollups (at
// most 720 per checkpoint). A window covers the whole hours that began within it.
func (q *Queries) MonitorStatus(ctx context.Context, name string) (*pb.MonitorStatusResponse, error) {
	m, err := q.monitor(name)
	if err != nil {
		return nil, err
	}
	latest, err := q.LastResults(m.Name)
	if err != nil {
		return nil, err
	}
	now := q.now()
	out := &pb.MonitorStatusResponse{Monitor: m.Name, Paused: m.Paused}
	all := make([]store.Rollup, 0, 720*len(m.Checkpoints))
	for _, cp := range m.Checkpoints {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rs, err := q.Store.Rollups(m.Name, cp, now.Add(-Windows[len(Windows)-1].Span), now.Add(time.Hour))
		if err != nil {
			return nil, fmt.Errorf("reading rollups of %s @ %s: %w", m.Name, cp, err)
		}
		all = append(all, rs...)
		out.Checkpoints = append(out.Checkpoints, &pb.CheckpointStatus{Checkpoint: cp, Latest: latestOf(latest, cp), Windows: windows(rs, now)})
	}
	out.Windows = windows(all, now)
	return out, nil
}

func (q *Queries) now() time.Time {
	if q.Now == nil {
		return time.Now()
	}
	return q.Now()
}

func latestOf(rs []*pb.RunResult, cp string) *pb.RunResult {
	for _, r := range rs {
		if r.CheckpointName == cp {
			return r
		}
	}
	return nil
}

// windows sums rs over each of Windows.
func windows(rs []store.Rollup, now time.Time) []*pb.WindowStats {
	var out []*pb.WindowStats
	for _, w := range Windows {
		from := now.Add(-w.Span).UTC().Truncate(time.Hour)
		sum := store.Rollup{Buckets: make([]int64, len(store.RollupBounds)+1)}
		for _, r := range rs {
			if r.Hour.Before(from) {
				continue
			}
			sum.Runs, sum.Failures, sum.LookoutErrors = sum.Runs+r.Runs, sum.Failures+r.Failures, sum.LookoutErrors+r.LookoutErrors
			for i, c := range r.Buckets {
				sum.Buckets[i] += c
			}
		}
		out = append(out, windowStats(w.Name, sum))
	}
	return out
}

func windowStats(name string, r store.Rollup) *pb.WindowStats {
	ws := &pb.WindowStats{Window: name, Runs: r.Runs, Failures: r.Failures, LookoutErrors: r.LookoutErrors}
	if counted := r.Runs - r.LookoutErrors; counted > 0 {
		ws.Uptime = float64(counted-r.Failures) / float64(counted)
		ws.P50 = durationpb.New(percentile(r.Buckets, 0.50))
		ws.P95 = durationpb.New(percentile(r.Buckets, 0.95))
	}
	return ws
}

// percentile estimates the p-quantile of the durations counted in buckets (store.RollupBounds),
// interpolating linearly inside the bucket where it falls; the open last bucket answers its lower
// bound.
func percentile(buckets []int64, p float64) time.Duration {
	var total int64
	for _, c := range buckets {
		total += c
	}
	if total == 0 {
		return 0
	}
	rank, seen := p*float64(total), int64(0)
	for i, c := range buckets {
		if c == 0 || float64(seen+c) < rank {
			seen += c
			continue
		}
		lo := int64(0)
		if i > 0 {
			lo = store.RollupBounds[i-1]
		}
		if i == len(store.RollupBounds) {
			return time.Duration(lo) * time.Millisecond
		}
		hi := store.RollupBounds[i]
		frac := (rank - float64(seen)) / float64(c)
		return time.Duration((float64(lo) + frac*float64(hi-lo)) * float64(time.Millisecond))
	}
	return time.Duration(store.RollupBounds[len(store.RollupBounds)-1]) * time.Millisecond
}

// QueryService implements pb.QueryServiceServer over Queries.
type QueryService struct {
	pb.UnimplementedQueryServiceServer
	Queries *Queries
}

var _ pb.QueryServiceServer = (*QueryService)(nil)

// LastResults answers the latest result per monitor × checkpoint.
func (s *QueryService) LastResults(_ context.Context, req *pb.LastResultsRequest) (*pb.LastResultsResponse, error) {
	rs, err := s.Queries.LastResults(req.Monitor)
	if err != nil {
		return nil, queryErr("monitor", err)
	}
	return &pb.LastResultsResponse{Results: rs}, nil
}

// MonitorStatus answers a monitor's status, uptime and percentiles.
func (s *QueryService) MonitorStatus(ctx context.Context, req *pb.MonitorStatusRequest) (*pb.MonitorStatusResponse, error) {
	if req.Monitor == "" {
		return nil, status.Error(codes.InvalidArgument, "monitor: give the monitor's name")
	}
	st, err := s.Queries.MonitorStatus(ctx, req.Monitor)
	if err != nil {
		return nil, queryErr("monitor", err)
	}
	return st, nil
}

func queryErr(field string, err error) error {
	if errors.Is(err, ErrUnknownMonitor) {
		return status.Errorf(codes.NotFound, "%s: %v", field, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	return status.Errorf(codes.Internal, "%v", err)
}
