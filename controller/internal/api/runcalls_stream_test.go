package api

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// callServer serves RunCalls with runCallStream over real gRPC and TLS on loopback, each call
// handled by handle; it counts the messages the stream received.
type callServer struct {
	pb.UnimplementedAgentServiceServer
	handle   func(context.Context, *pb.RunCall) (*pb.RunCallReply, error)
	limit    int
	stopping chan struct{}
	received atomic.Int64
}

func (cs *callServer) RunCalls(stream grpc.BidiStreamingServer[pb.RunCall, pb.RunCallReply]) error {
	return newRunCallStream(countingStream{stream, &cs.received}, cs.handle, cs.limit).run(cs.stopping)
}

type countingStream struct {
	grpc.BidiStreamingServer[pb.RunCall, pb.RunCallReply]
	n *atomic.Int64
}

func (s countingStream) Recv() (*pb.RunCall, error) {
	c, err := s.BidiStreamingServer.Recv()
	if err == nil {
		s.n.Add(1)
	}
	return c, err
}

// open starts cs on loopback and opens one RunCalls stream to it; both end with the test.
func (cs *callServer) open(t *testing.T) callStreamClient {
	t.Helper()
	ca := testutil.NewCA(t, "runcalls test CA")
	leaf := ca.Issue(t, "127.0.0.1", true)
	srvTLS := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key}}, MinVersion: tls.VersionTLS13}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(srvTLS)))
	pb.RegisterAgentServiceServer(gs, cs)
	served := make(chan struct{})
	go func() { defer close(served); _ = gs.Serve(lis) }()
	t.Cleanup(func() { gs.Stop(); <-served })
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS13})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	s, err := pb.NewAgentServiceClient(conn).RunCalls(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type callStreamClient = grpc.BidiStreamingClient[pb.RunCall, pb.RunCallReply]

func okReply(call *pb.RunCall) *pb.RunCallReply {
	return &pb.RunCallReply{Id: call.Id, Reply: &pb.RunCallReply_ReportResult{ReportResult: &pb.ReportResultResponse{}}}
}

func sendCalls(t *testing.T, s callStreamClient, ids ...uint64) {
	t.Helper()
	for _, id := range ids {
		if err := s.Send(&pb.RunCall{Id: id}); err != nil {
			t.Fatalf("sending call %d: %v", id, err)
		}
	}
}

func recvReply(t *testing.T, s callStreamClient) *pb.RunCallReply {
	t.Helper()
	r, err := s.Recv()
	if err != nil {
		t.Fatalf("reading a reply: %v", err)
	}
	return r
}

// No more than the limit of calls is in progress on one stream, however many the agent sends;
// the others wait, unread, and are all answered once calls finish.
func TestRunCallStreamBoundsCallsInFlight(t *testing.T) {
	t.Parallel()
	const limit, calls = 4, 12
	var (
		mu             sync.Mutex
		inFlight, most int
		release        = make(chan struct{})
	)
	cs := &callServer{limit: limit, handle: func(ctx context.Context, call *pb.RunCall) (*pb.RunCallReply, error) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		select {
		case <-release:
		case <-ctx.Done():
		}
		mu.Lock()
		inFlight--
		mu.Unlock()
		return okReply(call), nil
	}}
	s := cs.open(t)
	for id := range uint64(calls) {
		sendCalls(t, s, id)
	}
	testutil.Eventually(t, "the first calls to start", 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return inFlight >= limit
	})
	close(release)
	got := map[uint64]bool{}
	for range calls {
		got[recvReply(t, s).Id] = true
	}
	if len(got) != calls {
		t.Errorf("answered %d distinct calls of %d", len(got), calls)
	}
	if most != limit {
		t.Errorf("%d calls were in progress at once, want the limit %d", most, limit)
	}
}

// A refused identity answers that call and ends the stream with its status, but only once the
// calls in progress have answered; a call the agent sends after the refusal is never served.
func TestRunCallStreamRefusalEndsStreamAfterCallsInProgress(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var servedLate atomic.Bool
	cs := &callServer{limit: maxCallsInFlight, handle: func(ctx context.Context, call *pb.RunCall) (*pb.RunCallReply, error) {
		switch call.Id {
		case 1: // in progress when the refusal comes
			select {
			case <-release:
			case <-ctx.Done():
			}
			return okReply(call), nil
		case 2:
			return nil, identityError{status.Error(codes.PermissionDenied, "agent a1 is revoked")}
		default:
			servedLate.Store(true)
			return okReply(call), nil
		}
	}}
	s := cs.open(t)
	sendCalls(t, s, 1, 2)
	if r := recvReply(t, s); r.Id != 2 || codes.Code(r.GetError().GetCode()) != codes.PermissionDenied {
		t.Fatalf("first reply %v, want call 2 refused with PermissionDenied", r)
	}
	sendCalls(t, s, 3)
	testutil.Eventually(t, "the call sent after the refusal to arrive", 10*time.Second, func() bool { return cs.received.Load() == 3 })
	close(release)
	if r := recvReply(t, s); r.Id != 1 || r.GetError() != nil {
		t.Fatalf("after the refusal got %v, want the answer to call 1 that was in progress", r)
	}
	r, err := s.Recv()
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("the stream went on with %v, %v; want it ended with the refusal's PermissionDenied", r, err)
	}
	if servedLate.Load() {
		t.Error("a call sent after the refusal was served")
	}
}

// A controller shutting down ends open streams with Unavailable after the calls in progress
// have answered.
func TestRunCallStreamShutdownAnswersCallsInProgress(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}), make(chan struct{})
	cs := &callServer{limit: maxCallsInFlight, stopping: make(chan struct{}), handle: func(ctx context.Context, call *pb.RunCall) (*pb.RunCallReply, error) {
		close(started)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return okReply(call), nil
	}}
	s := cs.open(t)
	sendCalls(t, s, 7)
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("call 7 did not start within 10s")
	}
	// An unbuffered send completes only when the handler takes the stop: call 7 is released after
	// that, so a handler that stopped without waiting for it would end the stream first.
	select {
	case cs.stopping <- struct{}{}:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler did not take the stop within 10s")
	}
	close(release)
	if r := recvReply(t, s); r.Id != 7 || r.GetError() != nil {
		t.Fatalf("got %v, want the answer to call 7 that was in progress at shutdown", r)
	}
	if _, err := s.Recv(); status.Code(err) != codes.Unavailable {
		t.Fatalf("the stream ended with %v, want Unavailable", err)
	}
}
