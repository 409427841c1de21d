package collect_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lookout-synthetics/lookout/controller/internal/collect"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

func result(outcome pb.Outcome, class pb.ErrorClass, start time.Time, d time.Duration) *pb.RunResult {
	return &pb.RunResult{Outcome: outcome, ErrorClass: class, StartedAt: timestamppb.New(start), FinishedAt: timestamppb.New(start.Add(d))}
}

// Uptime over each window, read from rollups, matches a count made from the raw results; Lookout's
// own errors are left out of it; the latest result per checkpoint is the last stored.
func TestMonitorStatusUptimeMatchesTheRawResults(t *testing.T) {
	st := openStore(t)
	putMonitor(t, st, "orders", "paris", "oslo")
	now := time.Now()
	q := &collect.Queries{Store: st, Now: func() time.Time { return now }}
	type raw struct {
		age time.Duration
		ok  bool
	}
	var stored []raw
	var last *pb.RunResult
	// Every 7 hours over 40 days, from paris; every third one fails; one agent-lost run a day.
	for age := 40 * 24 * time.Hour; age > 0; age -= 7 * time.Hour {
		ok := len(stored)%3 != 0
		out, class := pb.Outcome_OUTCOME_PASSED, pb.ErrorClass_ERROR_CLASS_UNSPECIFIED
		if !ok {
			out, class = pb.Outcome_OUTCOME_FAILED, pb.ErrorClass_ERROR_CLASS_HTTP
		}
		last = storeResult(t, st, "orders", "paris", now.Add(-age), result(out, class, now.Add(-age), 200*time.Millisecond))
		stored = append(stored, raw{age, ok})
		if len(stored)%4 == 0 {
			storeResult(t, st, "orders", "paris", now.Add(-age), result(pb.Outcome_OUTCOME_ERROR, pb.ErrorClass_ERROR_CLASS_AGENT_LOST, now.Add(-age), 0))
		}
	}
	got, err := q.MonitorStatus(t.Context(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range collect.Windows {
		from := now.Add(-w.Span).UTC().Truncate(time.Hour)
		var runs, passed int
		for _, r := range stored {
			if !now.Add(-r.age).Before(from) {
				runs++
				if r.ok {
					passed++
				}
			}
		}
		ws := got.Windows[i]
		if want := float64(passed) / float64(runs); ws.Uptime != want || ws.Runs-ws.LookoutErrors != int64(runs) {
			t.Errorf("%s: uptime %v over %d runs (%d Lookout errors), want %v over %d", w.Name, ws.Uptime, ws.Runs, ws.LookoutErrors, want, runs)
		}
		if p50 := ws.P50.AsDuration(); p50 < 150*time.Millisecond || p50 > 200*time.Millisecond {
			t.Errorf("%s: p50 %v, want within the 150–200 ms bucket", w.Name, p50)
		}
	}
	if d := cmp.Diff([]string{"paris", "oslo"}, []string{got.Checkpoints[0].Checkpoint, got.Checkpoints[1].Checkpoint}); d != "" {
		t.Errorf("checkpoints (-want +got):\n%s", d)
	}
	if got.Checkpoints[0].Latest.GetRunId() != last.RunId || got.Checkpoints[1].Latest != nil {
		t.Errorf("latest: paris %v (want %s), oslo %v (want none)", got.Checkpoints[0].Latest.GetRunId(), last.RunId, got.Checkpoints[1].Latest)
	}
	if _, err := q.MonitorStatus(t.Context(), "typo"); !errors.Is(err, collect.ErrUnknownMonitor) {
		t.Errorf("MonitorStatus(typo) = %v, want ErrUnknownMonitor", err)
	}
	if _, err := q.LastResults("typo"); !errors.Is(err, collect.ErrUnknownMonitor) {
		t.Errorf("LastResults(typo) = %v, want ErrUnknownMonitor", err)
	}
}

// A 30-day status reads at most 721 rollups per checkpoint however many results there are.
func BenchmarkMonitorStatus30d(b *testing.B) {
	st := openStore(b)
	putMonitor(b, st, "orders", "a", "b", "c")
	now := time.Now()
	for _, cp := range []string{"a", "b", "c"} {
		for h := range 30 * 24 {
			start := now.Add(-time.Duration(h) * time.Hour)
			storeResult(b, st, "orders", cp, start, result(pb.Outcome_OUTCOME_PASSED, 0, start, 100*time.Millisecond))
		}
	}
	q := &collect.Queries{Store: st}
	b.ResetTimer()
	for b.Loop() {
		if _, err := q.MonitorStatus(b.Context(), "orders"); err != nil {
			b.Fatal(err)
		}
	}
}
