package api

import (
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Results implements ResultService.
type Results struct {
	pb.UnimplementedResultServiceServer
	Store *store.Store
	Hub   *Hub
}

// StreamResults replays stored results when asked, then streams new ones as they are stored.
func (s *Results) StreamResults(req *pb.StreamResultsRequest, stream pb.ResultService_StreamResultsServer) error {
	if req.Monitor != "" {
		// A misspelt filter would otherwise wait forever for results that never come.
		if _, err := s.Store.Monitor(req.Monitor); errors.Is(err, store.ErrNotFound) {
			return status.Errorf(codes.NotFound, "no monitor named %q; `monitor list` shows the monitors", req.Monitor)
		} else if err != nil {
			return toStatus(err)
		}
	}
	live, cancel := s.Hub.Subscribe(1024) // subscribe before replaying, so nothing falls in between
	defer cancel()
	last := req.AfterSequence
	if req.FromStart || req.AfterSequence > 0 {
		var sendErr error
		err := s.Store.Results(req.AfterSequence, func(res *pb.RunResult) bool {
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

func matches(req *pb.StreamResultsRequest, res *pb.RunResult) bool {
	return req.Monitor == "" || req.Monitor == res.MonitorName || req.Monitor == res.MonitorId
}
