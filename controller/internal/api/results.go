package api

import (
	"errors"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// ResultStore is the part of the store ResultService reads: stored results, and the monitors and
// checkpoints a stream's filters name.
type ResultStore interface {
	Results(after uint64, fn func(*pb.RunResult) bool) error
	ResultSequenceBefore(t time.Time) (uint64, error)
	Monitor(ref string) (*pb.Monitor, error)
	Checkpoint(nameOrID string) (*pb.Checkpoint, error)
}

var _ ResultStore = (*store.Store)(nil)

// Results implements ResultService.
type Results struct {
	pb.UnimplementedResultServiceServer
	Store ResultStore
	Hub   *Hub
}

// StreamResults replays stored results when asked, then streams new ones as they are stored.
func (s *Results) StreamResults(req *pb.StreamResultsRequest, stream pb.ResultService_StreamResultsServer) error {
	if err := s.checkFilters(req); err != nil {
		return err
	}
	live, cancel := s.Hub.Subscribe(1024) // subscribe before replaying, so nothing falls in between
	defer cancel()
	last := req.AfterSequence
	if req.Since != nil && req.AfterSequence == 0 && !req.FromStart {
		// Replay from the first result stored at or after since, found without reading the ones
		// before it.
		var err error
		if last, err = s.Store.ResultSequenceBefore(req.Since.AsTime()); err != nil {
			return toStatus(err)
		}
	}
	if req.FromStart || last > 0 || req.Since != nil {
		var sendErr error
		err := s.Store.Results(last, func(res *pb.RunResult) bool {
			last = res.Sequence
			if matches(req, res) {
				sendErr = stream.Send(res)
			}
			return sendErr == nil
		})
		if err != nil {
			return toStatus(err)
		}
		if sendErr != nil {
			return sendErr
		}
	}
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case res, ok := <-live:
			if !ok {
				return status.Errorf(codes.ResourceExhausted, "collector fell behind; reconnect with after_sequence=%d", last)
			}
			if res.Sequence <= last || !matches(req, res) {
				continue
			}
			last = res.Sequence
			if err := stream.Send(res); err != nil {
				return err
			}
		}
	}
}

// checkFilters refuses filters that name nothing: a misspelt one would otherwise wait forever for
// results that never come.
func (s *Results) checkFilters(req *pb.StreamResultsRequest) error {
	if req.Monitor != "" {
		if _, err := s.Store.Monitor(req.Monitor); errors.Is(err, store.ErrNotFound) {
			return status.Errorf(codes.NotFound, "monitor: no monitor named %q; `monitor list` shows the monitors", req.Monitor)
		} else if err != nil {
			return toStatus(err)
		}
	}
	if req.Checkpoint != "" {
		if _, err := s.Store.Checkpoint(req.Checkpoint); errors.Is(err, store.ErrNotFound) {
			return status.Errorf(codes.NotFound, "checkpoint: no checkpoint named %q; `checkpoint list` shows the checkpoints", req.Checkpoint)
		} else if err != nil {
			return toStatus(err)
		}
	}
	if req.Since != nil {
		if err := req.Since.CheckValid(); err != nil {
			return status.Errorf(codes.InvalidArgument, "since: %v", err)
		}
	}
	return nil
}

func matches(req *pb.StreamResultsRequest, res *pb.RunResult) bool {
	return (req.Monitor == "" || req.Monitor == res.MonitorName || req.Monitor == res.MonitorId) &&
		(req.Checkpoint == "" || req.Checkpoint == res.CheckpointName || req.Checkpoint == res.CheckpointId) &&
		(!req.FailedOnly || res.Outcome != pb.Outcome_OUTCOME_PASSED) &&
		(req.Since == nil || (res.GetStoredAt() != nil && !res.StoredAt.AsTime().Before(req.Since.AsTime())))
}
