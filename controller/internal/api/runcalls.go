package api

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// maxCallsInFlight bounds the calls one RunCalls stream has in progress at once; the stream stops
// reading (and HTTP/2 flow control holds the agent back) until one finishes. An agent runs at most
// a few hundred runs at once, so this does not limit a healthy one.
const maxCallsInFlight = 512

// workerIdle is how long a RunCalls worker waits for another call before it ends.
const workerIdle = 2 * time.Second

// RunCalls serves FetchRunSecrets and ReportResult as messages on one stream. Each message is
// checked like a unary call (the caller still enrolled, not revoked, its certificate unexpired),
// then handled by the same code as the unary call, concurrently, and answered by id. A refused
// identity check answers that call and ends the stream with the same status.
func (s *Agents) RunCalls(stream grpc.BidiStreamingServer[pb.RunCall, pb.RunCallReply]) error {
	ctx := stream.Context()
	recheck := recheckFrom(ctx)
	if recheck == nil {
		return status.Error(codes.Internal, "RunCalls reached without an agent identity check")
	}
	var (
		sendMu  sync.Mutex
		ended   bool // the handler is returning: no Send after that
		calls   sync.WaitGroup
		slots   = make(chan struct{}, maxCallsInFlight)
		refused = make(chan error, 1)
		recvErr = make(chan error, 1)
	)
	send := func(r *pb.RunCallReply) {
		sendMu.Lock()
		defer sendMu.Unlock()
		if !ended && stream.Send(r) != nil {
			ended = true
		}
	}
	// Calls are served by workers that stay for the next call while the stream is busy: a goroutine
	// per call grew a fresh stack through the store and gRPC each time (a tenth of the
	// controller's CPU per run). An idle worker leaves after workerIdle.
	jobs := make(chan *pb.RunCall)
	// stop closes when the handler takes no more calls; starting goes false under startMu, so no
	// worker starts after the handler began to wait for the ones it has.
	stop := make(chan struct{})
	var startMu sync.Mutex
	starting := true
	serve := func(call *pb.RunCall) {
		defer func() { <-slots }()
		reply, err := s.serveCall(ctx, recheck, call)
		if err != nil {
			reply = &pb.RunCallReply{Id: call.Id, Reply: &pb.RunCallReply_Error{Error: callError(err)}}
		}
		send(reply)
		if err != nil && isIdentityError(err) {
			select {
			case refused <- err:
			default:
			}
		}
	}
	worker := func(call *pb.RunCall) {
		idle := time.NewTimer(workerIdle)
		defer idle.Stop()
		for {
			serve(call)
			idle.Reset(workerIdle)
			select {
			case call = <-jobs:
			case <-idle.C:
				return
			case <-stop:
				return
			}
		}
	}
	// Recv runs apart from the handler so that a refused identity ends the stream at once; the
	// handler's return cancels the stream, which ends this loop too.
	go func() {
		for {
			call, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				recvErr <- ctx.Err()
				return
			}
			startMu.Lock()
			if !starting {
				startMu.Unlock()
				<-slots
				return
			}
			select {
			case jobs <- call:
			default:
				calls.Go(func() { worker(call) })
			}
			startMu.Unlock()
		}
	}()
	var err error
	select {
	case err = <-recvErr:
		if errors.Is(err, io.EOF) {
			err = nil
		}
	case err = <-refused:
	case <-s.Stopping:
		err = status.Error(codes.Unavailable, "the controller is shutting down")
	}
	// Calls taken finish and answer before the stream ends, also on a refusal or a shutdown:
	// the store stays open for them and a stored result is published before the stop.
	startMu.Lock()
	starting = false
	startMu.Unlock()
	close(stop)
	calls.Wait()
	sendMu.Lock()
	ended = true
	sendMu.Unlock()
	return err
}

// identityError marks a refusal of the caller itself (not of one call), which ends the stream.
type identityError struct{ error }

func (e identityError) GRPCStatus() *status.Status { return status.Convert(e.error) }

func isIdentityError(err error) bool {
	var ie identityError
	return errors.As(err, &ie)
}

func (s *Agents) serveCall(ctx context.Context, recheck func(string) (store.Agent, error), call *pb.RunCall) (*pb.RunCallReply, error) {
	withAgent := func(name string) (context.Context, error) {
		ag, err := recheck(name)
		if err != nil {
			return nil, identityError{err}
		}
		return context.WithValue(ctx, agentKey{}, ag), nil
	}
	switch c := call.Call.(type) {
	case *pb.RunCall_FetchRunSecrets:
		ctx, err := withAgent("FetchRunSecrets")
		if err != nil {
			return nil, err
		}
		resp, err := s.FetchRunSecrets(ctx, c.FetchRunSecrets)
		if err != nil {
			return nil, err
		}
		return &pb.RunCallReply{Id: call.Id, Reply: &pb.RunCallReply_FetchRunSecrets{FetchRunSecrets: resp}}, nil
	case *pb.RunCall_ReportResult:
		ctx, err := withAgent("ReportResult")
		if err != nil {
			return nil, err
		}
		resp, err := s.ReportResult(ctx, c.ReportResult)
		if err != nil {
			return nil, err
		}
		return &pb.RunCallReply{Id: call.Id, Reply: &pb.RunCallReply_ReportResult{ReportResult: resp}}, nil
	}
	return nil, status.Error(codes.InvalidArgument, "run call: neither fetch_run_secrets nor report_result is set (is the agent newer than this controller?)")
}

func callError(err error) *pb.CallError {
	st := status.Convert(err)
	return &pb.CallError{Code: int32(st.Code()), Message: st.Message()}
}
