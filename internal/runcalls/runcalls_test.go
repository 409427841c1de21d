package runcalls

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// server answers RunCalls over real gRPC on loopback: a claim of run "refused" gets a per-call
// error, every other call succeeds; it counts the streams opened.
type server struct {
	pb.UnimplementedAgentServiceServer
	mu      sync.Mutex
	streams int
	calls   int
}

func (s *server) RunCalls(stream grpc.BidiStreamingServer[pb.RunCall, pb.RunCallReply]) error {
	s.mu.Lock()
	s.streams++
	s.mu.Unlock()
	for {
		call, err := stream.Recv()
		if err != nil {
			return nil
		}
		s.mu.Lock()
		s.calls++
		s.mu.Unlock()
		reply := &pb.RunCallReply{Id: call.Id}
		switch c := call.Call.(type) {
		case *pb.RunCall_FetchRunSecrets:
			if c.FetchRunSecrets.RunId == "refused" {
				reply.Reply = &pb.RunCallReply_Error{Error: &pb.CallError{Code: int32(codes.PermissionDenied), Message: "run refused was claimed by another instance"}}
			} else {
				reply.Reply = &pb.RunCallReply_FetchRunSecrets{FetchRunSecrets: &pb.FetchRunSecretsResponse{}}
			}
		case *pb.RunCall_ReportResult:
			reply.Reply = &pb.RunCallReply_ReportResult{ReportResult: &pb.ReportResultResponse{Duplicate: c.ReportResult.Result.GetRunId() == "dup"}}
		}
		if err := stream.Send(reply); err != nil {
			return err
		}
	}
}

func (s *server) counts() (int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streams, s.calls
}

func start(t *testing.T) (*server, *Client, *sync.Map) {
	t.Helper()
	srv := &server{}
	var tapped sync.Map
	c := serve(t, srv, func(ch string, _ []byte) { tapped.Store(ch, true) })
	return srv, c, &tapped
}

// serve runs srv over real gRPC on loopback and returns a Client of it, tapped by tap if set.
func serve(t *testing.T, srv pb.AgentServiceServer, tap func(string, []byte), opts ...grpc.ServerOption) *Client {
	t.Helper()
	g := grpc.NewServer(opts...)
	pb.RegisterAgentServiceServer(g, srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := New(pb.NewAgentServiceClient(conn), tap)
	t.Cleanup(c.Close)
	return c
}

// TestCallsShareOneStreamAndSurviveABreak: concurrent calls go on one stream and each gets its own
// answer; a per-call error is that call's; a broken stream fails waiting calls with Unavailable
// (which callers retry) and the next call opens another stream.
func TestCallsShareOneStreamAndSurviveABreak(t *testing.T) {
	t.Parallel()
	srv, c, tapped := start(t)
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			if i%2 == 0 {
				if _, err := c.FetchRunSecrets(ctx, &pb.FetchRunSecretsRequest{RunId: "r"}); err != nil {
					errs <- err
				}
				return
			}
			resp, err := c.ReportResult(ctx, &pb.ReportResultRequest{Result: &pb.RunResult{RunId: "dup"}})
			if err != nil || !resp.Duplicate {
				errs <- status.Errorf(codes.Internal, "report answered %v, %v; want its own (duplicate) answer", resp, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if streams, calls := srv.counts(); streams != 1 || calls != 64 {
		t.Errorf("64 calls used %d streams and reached the server %d times, want 1 and 64", streams, calls)
	}
	for _, m := range []string{pb.AgentService_FetchRunSecrets_FullMethodName, pb.AgentService_ReportResult_FullMethodName} {
		if _, ok := tapped.Load("grpc:" + m); !ok {
			t.Errorf("the tap saw no reply to %s", m)
		}
	}
	_, err := c.FetchRunSecrets(ctx, &pb.FetchRunSecretsRequest{RunId: "refused"})
	if status.Code(err) != codes.PermissionDenied || status.Convert(err).Message() != "run refused was claimed by another instance" {
		t.Errorf("a refused call returned %v, want the controller's PermissionDenied", err)
	}

	c.mu.Lock()
	first := c.cur
	c.mu.Unlock()
	first.cancel()
	testutil.Eventually(t, "the broken stream to be forgotten", 5*time.Second, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.cur != first
	})
	if err := first.failure(); status.Code(err) != codes.Unavailable {
		t.Errorf("a broken stream fails its calls with %v, want Unavailable (a transient error the callers retry)", err)
	}
	if _, err := c.FetchRunSecrets(ctx, &pb.FetchRunSecretsRequest{RunId: "r"}); err != nil {
		t.Fatalf("the call after the stream broke: %v", err)
	}
	if streams, _ := srv.counts(); streams != 2 {
		t.Errorf("%d streams opened, want 2 (one reopened after the break)", streams)
	}
	if c.UsesUnary() {
		t.Error("a broken stream made the client fall back to unary calls")
	}
	ctx2, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.ReportResult(ctx2, &pb.ReportResultRequest{Result: &pb.RunResult{RunId: "x"}}); status.Code(err) != codes.Canceled {
		t.Errorf("a call with a cancelled context returned %v, want Canceled", err)
	}
	c.Close()
	if _, err := c.ReportResult(ctx, &pb.ReportResultRequest{Result: &pb.RunResult{RunId: "x"}}); status.Code(err) != codes.Canceled {
		t.Errorf("a call after Close returned %v, want Canceled", err)
	}
}

// TestCallsToAnUnreachableControllerFailTransiently: with nothing listening, a call fails with a
// code the agent retries (Unavailable, or DeadlineExceeded at its own deadline), within its
// deadline, and a later call tries again.
func TestCallsToAnUnreachableControllerFailTransiently(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // a loopback port with nothing behind it
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := New(pb.NewAgentServiceClient(conn), nil)
	t.Cleanup(c.Close)
	for range 2 {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		_, err := c.FetchRunSecrets(ctx, &pb.FetchRunSecretsRequest{RunId: "r"})
		cancel()
		if code := status.Code(err); code != codes.Unavailable && code != codes.DeadlineExceeded {
			t.Errorf("a call to an unreachable controller returned %v, want Unavailable or DeadlineExceeded", err)
		}
	}
	if c.UsesUnary() {
		t.Error("an unreachable controller made the client fall back to unary calls")
	}
}

// stallServer stops reading its first RunCalls stream (a controller too busy to take a message,
// or wedged), so HTTP/2 flow control holds the agent's Send; later streams are served normally.
type stallServer struct {
	server
	once    sync.Once
	stalled chan struct{} // closed when the first stream is open and left unread
}

func (s *stallServer) RunCalls(stream grpc.BidiStreamingServer[pb.RunCall, pb.RunCallReply]) error {
	first := false
	s.once.Do(func() { first = true })
	if first {
		close(s.stalled)
		<-stream.Context().Done()
		return nil
	}
	return s.server.RunCalls(stream)
}

// TestCallsOnAStalledStreamEndAtTheirDeadline: when the controller stops reading, a call whose
// message cannot be sent, and a call queued behind it, each return at their own deadline instead of
// hanging on flow control; the stalled stream is given up, and the next call goes on a new one.
func TestCallsOnAStalledStreamEndAtTheirDeadline(t *testing.T) {
	t.Parallel()
	srv := &stallServer{stalled: make(chan struct{})}
	// A fixed 64 KiB stream window (no dynamic growth): once one 1 MiB message has used up the
	// stream's write quota, the next Send blocks until the server reads, which it never does.
	c := serve(t, srv, nil, grpc.InitialWindowSize(64<<10))

	// Open the stream the server will leave unread.
	opened := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		_, err := c.FetchRunSecrets(ctx, &pb.FetchRunSecretsRequest{RunId: "first"})
		opened <- err
	}()
	<-srv.stalled

	// Three large reports and a claim, in whatever order they get their turns: at most the claim
	// and one report get through the write quota, then a call blocks in Send and the last one
	// waits for its turn behind it.
	big := &pb.ReportResultRequest{Result: &pb.RunResult{RunId: "big", Message: strings.Repeat("x", 1<<20)}}
	errs := make(chan error, 4)
	for i := range 4 {
		go func() {
			ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
			defer cancel()
			if i == 0 {
				_, err := c.FetchRunSecrets(ctx, &pb.FetchRunSecretsRequest{RunId: "queued"})
				errs <- err
				return
			}
			_, err := c.ReportResult(ctx, big)
			errs <- err
		}()
	}
	for range 5 {
		var err error
		select {
		case err = <-errs:
		case err = <-opened:
		case <-time.After(20 * time.Second):
			t.Fatal("a call on a stalled stream did not return at its deadline: it hangs on flow control")
		}
		if code := status.Code(err); code != codes.DeadlineExceeded && code != codes.Unavailable {
			t.Errorf("a call on the stalled stream returned %v, want DeadlineExceeded or Unavailable (both retried)", err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// The stalled stream answers nothing: an answer means the call went on a new one.
	if _, err := c.FetchRunSecrets(ctx, &pb.FetchRunSecretsRequest{RunId: "after"}); err != nil {
		t.Fatalf("the call after the stall: %v", err)
	}
}

// TestACallWhoseContextIsOverLeavesTheStreamBe: a call whose context is already over when it
// takes its turn to send (select picks at random between a free turn and a done context) returns
// its context's error and does not give up a healthy stream the other calls are using.
func TestACallWhoseContextIsOverLeavesTheStreamBe(t *testing.T) {
	t.Parallel()
	_, c, _ := start(t)
	if _, err := c.FetchRunSecrets(t.Context(), &pb.FetchRunSecretsRequest{RunId: "r"}); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	cs := c.cur
	c.mu.Unlock()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for range 200 {
		if err := cs.send(ctx, &pb.RunCall{Id: 1 << 40, Call: &pb.RunCall_FetchRunSecrets{FetchRunSecrets: &pb.FetchRunSecretsRequest{RunId: "r"}}}); err == nil {
			t.Fatal("a send with a cancelled context went out")
		}
		if err := cs.failure(); err != nil {
			t.Fatalf("a send with a cancelled context gave up the stream: %v", err)
		}
	}
}
