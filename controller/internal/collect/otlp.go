package collect

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/credentials"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// TraceOptions configure the OTLP trace export.
type TraceOptions struct {
	Endpoint  string      // HOST:PORT of an OTLP gRPC receiver
	Insecure  bool        // plain gRPC instead of TLS
	TLS       *tls.Config // for TLS; nil: the system's roots
	QueueSize int         // results waiting to become traces; default 4096. More are dropped and counted.
	Logger    *slog.Logger
}

// TraceExporter turns each stored result into a trace: a span for the run and a child span per
// step, with OpenTelemetry HTTP semantic-convention attributes. Export never blocks the caller:
// a result that finds the queue full is dropped and counted.
type TraceExporter struct {
	log     *slog.Logger
	tp      *sdktrace.TracerProvider
	tracer  trace.Tracer
	queue   chan *pb.RunResult
	dropped prometheus.Counter
	wg      sync.WaitGroup
	mu      sync.RWMutex // held for writing only to close queue
	closed  bool
}

// NewTraceExporter connects (lazily) to the receiver and starts the goroutine that makes spans;
// Shutdown stops it.
func NewTraceExporter(ctx context.Context, o TraceOptions) (*TraceExporter, error) {
	if o.Endpoint == "" {
		return nil, errors.New("--otlp-endpoint: give the receiver's HOST:PORT")
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 4096
	}
	opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(o.Endpoint)}
	if o.Insecure {
		opts = append(opts, otlptracegrpc.WithInsecure())
	} else {
		opts = append(opts, otlptracegrpc.WithTLSCredentials(credentials.NewTLS(o.TLS)))
	}
	exp, err := otlptracegrpc.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("--otlp-endpoint %s: %w", o.Endpoint, err)
	}
	res := resource.NewSchemaless(semconv.ServiceName("lookout"))
	// Blocking: the processor waits for room instead of dropping silently, so every drop happens
	// at our own queue, where it is counted.
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithBatcher(exp, sdktrace.WithBlocking()))
	e := &TraceExporter{log: o.Logger, tp: tp, tracer: tp.Tracer("github.com/lookout-synthetics/lookout/controller"),
		queue: make(chan *pb.RunResult, o.QueueSize),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "lookout_otlp_results_dropped_total",
			Help: "Results not exported as traces because the export queue was full."}),
	}
	e.wg.Add(1)
	go e.loop()
	return e, nil
}

// Collectors are the exporter's metrics.
func (e *TraceExporter) Collectors() []prometheus.Collector { return []prometheus.Collector{e.dropped} }

// Export queues a result; it never blocks.
func (e *TraceExporter) Export(res *pb.RunResult) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		e.dropped.Inc()
		return
	}
	select {
	case e.queue <- res:
	default:
		e.dropped.Inc()
	}
}

func (e *TraceExporter) loop() {
	defer e.wg.Done()
	for res := range e.queue {
		e.spans(res)
	}
}

// Shutdown stops taking results, turns the queued ones into spans and sends what it can before
// ctx ends. Results exported after it are dropped.
func (e *TraceExporter) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.queue)
	e.mu.Unlock()
	e.wg.Wait()
	return e.tp.Shutdown(ctx)
}
