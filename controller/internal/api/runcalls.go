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
// identity check answers that call and ends the stream with the same status; calls sent after it
// are not served.
func (s *Agents) RunCalls(stream grpc.BidiStreamingServer[pb.RunCall, pb.RunCallReply]) error {
	recheck := recheckFrom(stream.Context())
	if recheck == nil {
		return status.Error(codes.Internal, "RunCalls reached without an agent identity check")
	}
	handle := func(ctx context.Context, call *pb.RunCall) (*pb.RunCallReply, error) {
		return s.serveCall(ctx, recheck, call)
	}
	return newRunCallStream(stream, handle, maxCallsInFlight).run(s.Stopping)
}

// runCallStream is one RunCalls stream being served. Its receive loop hands each call to a pool
// of workers, at most limit calls in progress at once; replies go out one at a time under sendMu.
// When the stream ends (the agent closed it, a call was refused, the controller is stopping) no
// worker starts any more, the calls taken finish and answer, and only then does the handler
// return: grpc-go forbids a Send after that.
//
// Workers stay for the next call while the stream is busy: a goroutine per call grew a fresh
// stack through the store and gRPC each time (a tenth of the controller's CPU per run). An idle
// worker leaves after workerIdle.
type runCallStream struct {
	ctx    context.Context
	stream grpc.BidiStreamingServer[pb.RunCall, pb.RunCallReply]
	handle func(context.Context, *pb.RunCall) (*pb.RunCallReply, error)

	slots   chan struct{}    // a token per call in progress
	jobs    chan *pb.RunCall // hands a call to an idle worker
	workers sync.WaitGroup

	startMu sync.Mutex    // held while a worker starts and while the handler stops them
	stopped bool          // the handler waits for the workers it has: start no more
	stop    chan struct{} // closed with stopped: idle workers leave

	sendMu sync.Mutex
	ended  bool // the handler is returning, or a Send failed: no Send after that

	refused chan error // the first refusal of the caller's identity
	recvErr chan error // why the receive loop ended
}

func newRunCallStream(stream grpc.BidiStreamingServer[pb.RunCall, pb.RunCallReply],
	handle func(context.Context, *pb.RunCall) (*pb.RunCallReply, error), limit int) *runCallStream {
	return &runCallStream{
		ctx: stream.Context(), stream: stream, handle: handle,
		slots: make(chan struct{}, limit), jobs: make(chan *pb.RunCall), stop: make(chan struct{}),
		refused: make(chan error, 1), recvErr: make(chan error, 1),
	}
}

// run serves the stream until it ends, and returns the status to end it with. The receive loop
// runs apart from the handler so that a refused identity ends the stream at once; it is left
// blocked in Recv (or waiting for a slot) and ends when the handler's return cancels the stream.
func (rs *runCallStream) run(stopping <-chan struct{}) error {
	go rs.receive()
	err := rs.wait(stopping)
	// Calls taken finish and answer before the stream ends, also on a refusal or a shutdown:
	// the store stays open for them and a stored result is published before the stop.
	rs.finish()
	return err
}

// wait returns when the agent ends the stream, a call is refused or the controller stops.
func (rs *runCallStream) wait(stopping <-chan struct{}) error {
	select {
	case err := <-rs.recvErr:
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	case err := <-rs.refused:
		return err
	case <-stopping:
		return status.Error(codes.Unavailable, "the controller is shutting down")
	}
}

// receive reads calls and starts each once a slot is free, until the stream or the handler ends.
func (rs *runCallStream) receive() {
	for {
		call, err := rs.stream.Recv()
		if err != nil {
			rs.recvErr <- err
			return
		}
		select {
		case rs.slots <- struct{}{}:
		case <-rs.ctx.Done():
			rs.recvErr <- rs.ctx.Err()
			return
		}
		if !rs.start(call) {
			return
		}
	}
}

// start gives call, which holds a slot, to an idle worker or a new one; false once the handler
// has stopped taking calls.
func (rs *runCallStream) start(call *pb.RunCall) bool {
	rs.startMu.Lock()
	defer rs.startMu.Unlock()
	if rs.stopped {
		<-rs.slots
		return false
	}
	select {
	case rs.jobs <- call:
	default:
		rs.workers.Go(func() { rs.work(call) })
	}
	return true
}

// work serves call, then the calls handed to it, until it was idle for workerIdle or the
// handler stops.
func (rs *runCallStream) work(call *pb.RunCall) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		rs.serve(call)
		idle.Reset(workerIdle)
		select {
		case call = <-rs.jobs:
		case <-idle.C:
			return
		case <-rs.stop:
			return
		}
	}
}

// serve handles one call, answers it and frees its slot. A refusal of the caller's identity
// stops the stream taking calls before the refusal is answered, then ends the stream.
func (rs *runCallStream) serve(call *pb.RunCall) {
	defer func() { <-rs.slots }()
	reply, err := rs.handle(rs.ctx, call)
	if err != nil {
		reply = &pb.RunCallReply{Id: call.Id, Reply: &pb.RunCallReply_Error{Error: callError(err)}}
	}
	if err != nil && isIdentityError(err) {
		rs.stopTaking()
		select {
		case rs.refused <- err:
		default: // another call was refused first; that status ends the stream
		}
	}
	rs.send(reply)
}

// send sends one reply; gRPC allows one Send at a time and none after the handler returned.
func (rs *runCallStream) send(r *pb.RunCallReply) {
	rs.sendMu.Lock()
	defer rs.sendMu.Unlock()
	if !rs.ended && rs.stream.Send(r) != nil {
		rs.ended = true
	}
}

// stopTaking starts no more workers and lets the idle ones leave; calls received after it are
// dropped unanswered, as the stream is ending.
func (rs *runCallStream) stopTaking() {
	rs.startMu.Lock()
	defer rs.startMu.Unlock()
	if !rs.stopped {
		rs.stopped = true
		close(rs.stop)
	}
}

// finish takes no more calls, waits for the calls in progress and closes the stream to Send.
func (rs *runCallStream) finish() {
	rs.stopTaking()
	rs.workers.Wait()
	rs.sendMu.Lock()
	rs.ended = true
	rs.sendMu.Unlock()
}

// identityError marks a refusal of the caller itself (not of one call), which ends the stream.
type identityError struct{ error }

func (e identityError) GRPCStatus() *status.Status { return status.Convert(e.error) }

func isIdentityError(err error) bool {
	var ie identityError
	return errors.As(err, &ie)
}

func (s *Agents) serveCall(ctx context.Context, recheck func(string) (store.Agent, error), call *pb.RunCall) (*pb.RunCallReply, error) {
	switch c := call.Call.(type) {
	case *pb.RunCall_FetchRunSecrets:
		resp, err := asAgent(ctx, recheck, "FetchRunSecrets", c.FetchRunSecrets, s.FetchRunSecrets)
		if err != nil {
			return nil, err
		}
		return &pb.RunCallReply{Id: call.Id, Reply: &pb.RunCallReply_FetchRunSecrets{FetchRunSecrets: resp}}, nil
	case *pb.RunCall_ReportResult:
		resp, err := asAgent(ctx, recheck, "ReportResult", c.ReportResult, s.ReportResult)
		if err != nil {
			return nil, err
		}
		return &pb.RunCallReply{Id: call.Id, Reply: &pb.RunCallReply_ReportResult{ReportResult: resp}}, nil
	}
	return nil, status.Error(codes.InvalidArgument, "run call: neither fetch_run_secrets nor report_result is set (is the agent newer than this controller?)")
}

// asAgent checks the caller again, as the unary method's interceptor would, then handles req as
// that method does; a refused check is an identityError.
func asAgent[Req, Resp any](ctx context.Context, recheck func(string) (store.Agent, error), method string, req Req,
	handle func(context.Context, Req) (Resp, error)) (Resp, error) {
	ag, err := recheck(method)
	if err != nil {
		var none Resp
		return none, identityError{err}
	}
	return handle(context.WithValue(ctx, agentKey{}, ag), req)
}

func callError(err error) *pb.CallError {
	st := status.Convert(err)
	return &pb.CallError{Code: int32(st.Code()), Message: st.Message()}
}
