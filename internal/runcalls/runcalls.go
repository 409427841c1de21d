// Package runcalls is the agent's side of the controller's RunCalls stream: FetchRunSecrets and
// ReportResult as messages on one long-lived stream per connection.
package runcalls

import (
	"context"
	"errors"
	"io"
	"path"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Client sends FetchRunSecrets and ReportResult over the controller's RunCalls stream: one
// long-lived stream per connection, many calls in flight on it, each answered by id. A unary call
// per claim and per result cost the controller a new HTTP/2 stream and an identity lookup each,
// most of its CPU per run. The stream is opened on first use and again after it breaks; a broken
// stream fails the calls waiting on it with a transient error (Unavailable), which the callers
// retry like any transient failure.
type Client struct {
	client pb.AgentServiceClient
	tap    func(channel string, payload []byte)

	mu     sync.Mutex
	cur    *callStream
	nextID uint64
	closed bool
	unary  bool // the controller predates RunCalls: use the unary calls

	opening chan struct{} // closed when the stream being opened is open or failed
	openErr error         // why the last opening failed
}

// callStream is one open RunCalls stream and the calls waiting for its replies.
type callStream struct {
	stream grpc.BidiStreamingClient[pb.RunCall, pb.RunCallReply]
	cancel context.CancelFunc
	turn   chan struct{} // held (a token in it) by the call that is sending

	mu      sync.Mutex
	pending map[uint64]pendingCall
	err     error // set once the stream broke; no call is added after
}

type pendingCall struct {
	method string // the unary method this call stands for, for the tap
	reply  chan *pb.RunCallReply
}

// New returns a Client over client's connection. tap, when set, sees every reply, encoded, under
// "grpc:" and the unary method it answers (tests use it to prove what an agent receives).
func New(client pb.AgentServiceClient, tap func(channel string, payload []byte)) *Client {
	return &Client{client: client, tap: tap}
}

// FetchRunSecrets claims a run and fetches its secrets, as the unary call does.
func (r *Client) FetchRunSecrets(ctx context.Context, req *pb.FetchRunSecretsRequest) (*pb.FetchRunSecretsResponse, error) {
	return do(r, ctx, pb.AgentService_FetchRunSecrets_FullMethodName, r.client.FetchRunSecrets, req,
		&pb.RunCall{Call: &pb.RunCall_FetchRunSecrets{FetchRunSecrets: req}}, (*pb.RunCallReply).GetFetchRunSecrets)
}

// ReportResult reports a run's result, as the unary call does.
func (r *Client) ReportResult(ctx context.Context, req *pb.ReportResultRequest) (*pb.ReportResultResponse, error) {
	return do(r, ctx, pb.AgentService_ReportResult_FullMethodName, r.client.ReportResult, req,
		&pb.RunCall{Call: &pb.RunCall_ReportResult{ReportResult: req}}, (*pb.RunCallReply).GetReportResult)
}

// do makes one call on the stream, or with the unary method when the controller has no stream,
// and picks its answer out of the reply.
func do[Req, Resp any](r *Client, ctx context.Context, method string, unary func(context.Context, Req, ...grpc.CallOption) (*Resp, error),
	req Req, call *pb.RunCall, pick func(*pb.RunCallReply) *Resp) (*Resp, error) {
	if r.UsesUnary() {
		return unary(ctx, req)
	}
	reply, err := r.call(ctx, method, call)
	if err != nil {
		if r.fallBack(err) {
			return unary(ctx, req)
		}
		return nil, err
	}
	resp := pick(reply)
	if resp == nil {
		return nil, status.Errorf(codes.Internal, "the controller answered a %s call with another reply", path.Base(method))
	}
	return resp, nil
}

// UsesUnary reports whether the controller turned out to predate RunCalls.
func (r *Client) UsesUnary() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.unary
}

// fallBack reports whether err says the controller has no RunCalls (it predates the stream), and
// if so switches this connection to the unary calls for good.
func (r *Client) fallBack(err error) bool {
	if status.Code(err) != codes.Unimplemented {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.unary = true
	return true
}

// Close ends the stream; calls waiting on it fail, later calls are refused.
func (r *Client) Close() {
	r.mu.Lock()
	cs := r.cur
	r.cur, r.closed = nil, true
	r.mu.Unlock()
	if cs != nil {
		cs.cancel()
	}
}

func (r *Client) call(ctx context.Context, method string, c *pb.RunCall) (*pb.RunCallReply, error) {
	if err := ctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	cs, id, err := r.open(ctx)
	if err != nil {
		return nil, err
	}
	c.Id = id
	ch := make(chan *pb.RunCallReply, 1)
	if err := cs.add(id, pendingCall{method: method, reply: ch}); err != nil {
		return nil, err
	}
	if err := cs.send(ctx, c); err != nil {
		if ctx.Err() != nil {
			cs.take(id)
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		// io.EOF means the stream ended; its reason arrives through the receive loop.
		if !errors.Is(err, io.EOF) {
			cs.fail(err)
			cs.cancel()
		}
	}
	select {
	case reply, ok := <-ch:
		if !ok {
			return nil, cs.failure()
		}
		if e := reply.GetError(); e != nil {
			return nil, status.Error(codes.Code(e.Code), e.Message)
		}
		return reply, nil
	case <-ctx.Done():
		cs.take(id)
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

// send puts c on the stream, waiting for its turn and for HTTP/2 flow control no longer than ctx:
// a controller that stops reading must not hold the agent's calls past their deadlines. A message
// gRPC has begun to send cannot be withdrawn, so when ctx ends while the Send is blocked the stream
// is given up: the calls waiting on it fail with Unavailable, which their callers retry, and the
// next call opens a new stream. A call that gives up while still waiting for its turn leaves the
// stream be, and so does one whose Send returned: only a Send still in progress is a stall. Calls
// must carry a deadline; the agent's always do (the run's).
func (cs *callStream) send(ctx context.Context, c *pb.RunCall) error {
	select {
	case cs.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-cs.turn }()
	if err := ctx.Err(); err != nil { // select picks at random when both were ready
		return err
	}
	// 0 while the Send is in progress; whoever moves it first, the Send returning (1) or ctx
	// ending (2), decides whether the stream is given up.
	var state atomic.Int32
	stop := context.AfterFunc(ctx, func() {
		if state.CompareAndSwap(0, 2) {
			cs.fail(status.Error(codes.Unavailable, "a call could not be sent before its deadline: the controller is not reading the stream"))
			cs.cancel()
		}
	})
	defer stop()
	err := cs.stream.Send(c)
	state.CompareAndSwap(0, 1)
	return err
}

// open returns the current stream, opening one when there is none, and the id for the next call.
// One opening is in progress at a time and callers wait for it no longer than their context: a
// stream opened while the controller is unreachable can take a whole connection attempt.
func (r *Client) open(ctx context.Context) (*callStream, uint64, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, 0, status.Error(codes.Canceled, "the agent is shutting down")
	}
	r.nextID++
	id, cs := r.nextID, r.cur
	if cs != nil && cs.failure() == nil {
		r.mu.Unlock()
		return cs, id, nil
	}
	if cs != nil {
		r.cur = nil // broken, and its receive loop has not noticed yet: open another
	}
	if r.opening == nil {
		r.opening = make(chan struct{})
		go r.openStream(r.opening)
	}
	opened := r.opening
	r.mu.Unlock()
	select {
	case <-opened:
	case <-ctx.Done():
		return nil, 0, status.FromContextError(ctx.Err()).Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur == nil {
		if r.openErr != nil {
			return nil, 0, r.openErr
		}
		// It opened and broke (or was closed) before this caller woke: a transient failure.
		return nil, 0, status.Error(codes.Unavailable, "the run-call stream broke as it opened")
	}
	return r.cur, id, nil
}

// openStream opens a stream, records it (or why it could not) and closes opened.
func (r *Client) openStream(opened chan struct{}) {
	// The stream outlives the calls that wait for it; it ends when it breaks or on Close.
	sctx, cancel := context.WithCancel(context.Background())
	stream, err := r.client.RunCalls(sctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	defer close(opened)
	r.opening = nil
	if err != nil || r.closed {
		cancel()
		r.openErr = err
		if err == nil {
			r.openErr = status.Error(codes.Canceled, "the agent is shutting down")
		}
		return
	}
	cs := &callStream{stream: stream, cancel: cancel, turn: make(chan struct{}, 1), pending: map[uint64]pendingCall{}}
	r.cur, r.openErr = cs, nil
	go r.receive(cs)
}

// receive hands each reply to the call waiting for it until the stream breaks, then fails the
// calls still waiting and forgets the stream so that the next call opens another.
func (r *Client) receive(cs *callStream) {
	for {
		reply, err := cs.stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = status.Error(codes.Unavailable, "the controller ended the run-call stream")
			}
			cs.fail(err)
			break
		}
		p, ok := cs.take(reply.Id)
		if !ok {
			continue // its caller gave up waiting
		}
		if r.tap != nil {
			b, _ := proto.Marshal(reply)
			r.tap("grpc:"+p.method, b)
		}
		p.reply <- reply
	}
	r.mu.Lock()
	if r.cur == cs {
		r.cur = nil
	}
	r.mu.Unlock()
	cs.cancel()
}

func (cs *callStream) add(id uint64, p pendingCall) error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.err != nil {
		return cs.err
	}
	cs.pending[id] = p
	return nil
}

func (cs *callStream) take(id uint64) (pendingCall, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	p, ok := cs.pending[id]
	delete(cs.pending, id)
	return p, ok
}

// fail records why the stream broke (the first reason wins) and wakes every waiting call.
func (cs *callStream) fail(err error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.err == nil {
		// The controller ends the stream on purpose only when it refuses the agent itself; keep
		// that. Anything else (a dropped connection, a retired one, a restart) is worth a retry.
		switch status.Code(err) {
		case codes.PermissionDenied, codes.Unauthenticated, codes.Unimplemented:
		default:
			err = status.Error(codes.Unavailable, "run-call stream broke: "+status.Convert(err).Message())
		}
		cs.err = err
	}
	for id, p := range cs.pending {
		close(p.reply)
		delete(cs.pending, id)
	}
}

func (cs *callStream) failure() error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.err
}
