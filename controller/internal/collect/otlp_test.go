package collect_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	collectortracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lookout-synthetics/lookout/controller/internal/collect"
	"github.com/lookout-synthetics/lookout/controller/internal/server"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	testutil "github.com/lookout-synthetics/lookout/internal/testutil"
)

// receiver is a real OTLP gRPC trace receiver on loopback that keeps what it is sent. Until
// release is closed, it holds every export.
type receiver struct {
	collectortracepb.UnimplementedTraceServiceServer
	addr    string
	release chan struct{}
	mu      sync.Mutex
	spans   []*tracepb.Span
}

func startReceiver(t *testing.T, hold bool) *receiver {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{addr: lis.Addr().String(), release: make(chan struct{})}
	if !hold {
		close(r.release)
	}
	srv := grpc.NewServer()
	collectortracepb.RegisterTraceServiceServer(srv, r)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return r
}

func (r *receiver) Export(ctx context.Context, req *collectortracepb.ExportTraceServiceRequest) (*collectortracepb.ExportTraceServiceResponse, error) {
	select {
	case <-r.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			r.spans = append(r.spans, ss.Spans...)
		}
	}
	return &collectortracepb.ExportTraceServiceResponse{}, nil
}

func (r *receiver) traces() map[string][]*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]*tracepb.Span{}
	for _, s := range r.spans {
		out[fmt.Sprintf("%x", s.TraceId)] = append(out[fmt.Sprintf("%x", s.TraceId)], s)
	}
	return out
}

const leakMe = "s3cr3t-k3y"

func stepResult(i int, url string) *pb.StepResult {
	return &pb.StepResult{Index: int32(i), Name: fmt.Sprintf("step %d", i), Passed: i == 0, Method: "GET", Url: url, StatusCode: 200 + int32(i)*300,
		HttpVersion: "HTTP/2.0", Duration: durationpb.New(30 * time.Millisecond), Error: map[bool]string{false: "expected status 200, got 500"}[i == 0],
		Timings: &pb.Timings{Dns: durationpb.New(time.Millisecond), Connect: durationpb.New(time.Millisecond), Tls: durationpb.New(5 * time.Millisecond),
			FirstByte: durationpb.New(20 * time.Millisecond), Download: durationpb.New(time.Millisecond)}}
}

func runResult(n int) *pb.RunResult {
	start := time.Now().Add(-time.Second)
	return &pb.RunResult{RunId: fmt.Sprintf("run-%d", n), MonitorName: "orders", CheckpointName: "paris", Attempt: 1, Outcome: pb.Outcome_OUTCOME_FAILED,
		ErrorClass: pb.ErrorClass_ERROR_CLASS_ASSERTION, Message: "step 2 failed",
		StartedAt: timestamppb.New(start), FinishedAt: timestamppb.New(start.Add(80 * time.Millisecond)),
		Steps: []*pb.StepResult{
			stepResult(0, "https://user:"+leakMe+"@api.example.test:8443/orders?api_key="+leakMe+"&page=2"),
			stepResult(1, "https://api.example.test/orders/1?token="+leakMe),
			{Index: 2, Name: "skipped", Skipped: true},
		}}
}

// Each result becomes one trace: a run span and a client span per step that ran, with HTTP
// semantic-convention attributes, phase events, and no secret anywhere.
func TestOTLPExportsOneTracePerResultWithoutSecrets(t *testing.T) {
	r := startReceiver(t, false)
	exp, err := collect.NewTraceExporter(t.Context(), collect.TraceOptions{Endpoint: r.addr, Insecure: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		exp.Export(runResult(i))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := exp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	traces := r.traces()
	if len(traces) != 3 {
		t.Fatalf("%d traces, want 3", len(traces))
	}
	for id, spans := range traces {
		if len(spans) != 3 {
			t.Errorf("trace %s: %d spans, want the run and its two steps that ran", id, len(spans))
		}
		for _, s := range spans {
			j, _ := protojson.Marshal(s)
			if strings.Contains(string(j), leakMe) {
				t.Errorf("span %q carries the secret: %s", s.Name, j)
			}
		}
	}
	var step *tracepb.Span
	for _, s := range r.spans {
		if s.Kind == tracepb.Span_SPAN_KIND_CLIENT && s.ParentSpanId != nil && attr(s, "lookout.step.index") == "0" {
			step = s
		}
	}
	if step == nil {
		t.Fatal("no client span for step 0")
	}
	want := map[string]string{"http.request.method": "GET", "http.response.status_code": "200", "server.address": "api.example.test", "server.port": "8443",
		"url.full": "https://api.example.test:8443/orders?api_key=REDACTED&page=REDACTED", "network.protocol.version": "2.0"}
	for k, v := range want {
		if got := attr(step, k); got != v {
			t.Errorf("step span %s = %q, want %q", k, got, v)
		}
	}
	if len(step.Events) != 5 || step.Events[2].Name != "tls.done" {
		t.Errorf("step span events: %v, want five phase events", step.Events)
	}
}

// With the receiver stalled, results past the queue are dropped and counted, never blocking the
// caller; once it answers, every result not dropped arrives.
func TestOTLPQueueIsBoundedAndCountsDrops(t *testing.T) {
	r := startReceiver(t, true)
	exp, err := collect.NewTraceExporter(t.Context(), collect.TraceOptions{Endpoint: r.addr, Insecure: true, QueueSize: 8, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	const n = 4000
	start := time.Now()
	for i := range n {
		exp.Export(runResult(i))
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Export took %v for %d results with the receiver stalled: it must not block", took, n)
	}
	close(r.release)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := exp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	dropped := int(promtest.ToFloat64(exp.Collectors()[0]))
	if dropped == 0 || dropped+len(r.traces()) != n {
		t.Errorf("dropped %d + received %d traces, want some dropped and %d in all", dropped, len(r.traces()), n)
	}
}

func attr(s *tracepb.Span, key string) string {
	for _, a := range s.Attributes {
		if a.Key == key {
			if _, ok := a.Value.Value.(*commonpb.AnyValue_StringValue); ok {
				return a.Value.GetStringValue()
			}
			return fmt.Sprint(a.Value.GetIntValue())
		}
	}
	return ""
}

// serve --otlp-endpoint: a result the controller stores reaches the receiver as a trace.
func TestControllerExportsStoredResultsAsTraces(t *testing.T) {
	r := startReceiver(t, false)
	c := startController(t, server.Options{RunGrace: 100 * time.Millisecond, RunAttempts: 1, OTLPEndpoint: r.addr, OTLPInsecure: true})
	c.mustCLI(t, "", "checkpoint", "token", "--name", "nowhere", "--kind", "private")
	src := "name: lonely\ninterval: 1h\ntimeout: 1s\ncheckpoints: [nowhere]\nsteps:\n  - request:\n      url: https://127.0.0.1:1/\n"
	c.mustCLI(t, "", "monitor", "apply", "--paused", "-f", testutil.WriteFile(t, t.TempDir(), "m.yaml", []byte(src)))
	if r := c.cli(t, "", "run", "lonely", "--wait", "--timeout", "30s"); !strings.Contains(r.stdout, "checkpoint unavailable") {
		t.Fatalf("run lonely: %v\n%s", r.err, r.stdout)
	}
	c.Close() // flushes the export
	traces := r.traces()
	if len(traces) != 1 {
		t.Fatalf("%d traces, want 1", len(traces))
	}
	for _, spans := range traces {
		if len(spans) != 1 || attr(spans[0], "lookout.monitor") != "lonely" || spans[0].Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
			t.Errorf("trace: %v", spans)
		}
	}
}
