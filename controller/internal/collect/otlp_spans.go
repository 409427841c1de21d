package collect

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// spans makes the trace of one result: the run's span, then a client span per step that ran,
// laid end to end from the run's start (a step records its duration, not its start).
func (e *TraceExporter) spans(res *pb.RunResult) {
	start, end := res.GetStartedAt().AsTime(), res.GetFinishedAt().AsTime()
	ctx, run := e.tracer.Start(context.Background(), "lookout.run "+res.MonitorName, trace.WithTimestamp(start), trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(
			attribute.String("lookout.monitor", res.MonitorName),
			attribute.String("lookout.checkpoint", res.CheckpointName),
			attribute.String("lookout.run_id", res.RunId),
			attribute.Int("lookout.attempt", int(res.Attempt)),
			attribute.String("lookout.outcome", strings.ToLower(strings.TrimPrefix(res.Outcome.String(), "OUTCOME_"))),
		))
	if res.Outcome != pb.Outcome_OUTCOME_PASSED {
		run.SetAttributes(semconv.ErrorTypeKey.String(strings.ToLower(strings.TrimPrefix(res.ErrorClass.String(), "ERROR_CLASS_"))))
		run.SetStatus(codes.Error, res.Message)
	}
	at := start
	for _, st := range res.Steps {
		if st.Skipped {
			continue
		}
		at = e.stepSpan(ctx, st, at)
	}
	run.End(trace.WithTimestamp(end))
}

// stepSpan records one step from at and returns when it ended.
func (e *TraceExporter) stepSpan(ctx context.Context, st *pb.StepResult, at time.Time) time.Time {
	end := at.Add(st.GetDuration().AsDuration())
	name := st.Method
	if name == "" {
		name = st.Name
	}
	_, span := e.tracer.Start(ctx, name, trace.WithTimestamp(at), trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(stepAttributes(st)...))
	phaseEvents(span, st.GetTimings(), at)
	if !st.Passed {
		class := strings.ToLower(strings.TrimPrefix(st.ErrorClass.String(), "ERROR_CLASS_"))
		span.SetAttributes(semconv.ErrorTypeKey.String(class))
		span.SetStatus(codes.Error, st.Error)
	}
	span.End(trace.WithTimestamp(end))
	return end
}

func stepAttributes(st *pb.StepResult) []attribute.KeyValue {
	attrs := []attribute.KeyValue{attribute.String("lookout.step", st.Name), attribute.Int("lookout.step.index", int(st.Index)),
		attribute.Int("lookout.step.attempts", int(st.Attempts))}
	if st.Method != "" {
		attrs = append(attrs, semconv.HTTPRequestMethodKey.String(st.Method))
	}
	if u, err := url.Parse(st.Url); err == nil && u.Host != "" {
		attrs = append(attrs, semconv.URLFull(RedactURL(u)), semconv.URLScheme(u.Scheme), semconv.ServerAddress(u.Hostname()))
		if port, err := strconv.Atoi(u.Port()); err == nil {
			attrs = append(attrs, semconv.ServerPort(port))
		}
	}
	if st.StatusCode != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(int(st.StatusCode)))
	}
	if v := strings.TrimPrefix(st.HttpVersion, "HTTP/"); v != "" {
		attrs = append(attrs, semconv.NetworkProtocolVersion(v))
	}
	if ip := net.ParseIP(st.ResolvedIp); ip != nil {
		attrs = append(attrs, semconv.NetworkPeerAddress(ip.String()))
	}
	return attrs
}

// phaseEvents marks the end of each phase that took time, as the agent timed it.
func phaseEvents(span trace.Span, t *pb.Timings, at time.Time) {
	for _, ph := range []struct {
		name string
		d    time.Duration
	}{{"dns", t.GetDns().AsDuration()}, {"connect", t.GetConnect().AsDuration()}, {"tls", t.GetTls().AsDuration()},
		{"first_byte", t.GetFirstByte().AsDuration()}, {"download", t.GetDownload().AsDuration()}} {
		if ph.d <= 0 {
			continue
		}
		at = at.Add(ph.d)
		span.AddEvent(ph.name+".done", trace.WithTimestamp(at), trace.WithAttributes(attribute.Float64("duration_ms", float64(ph.d)/float64(time.Millisecond))))
	}
}

// RedactURL is u without what may carry a credential: user info is dropped and every query value
// is replaced by "REDACTED" (the names stay, so the trace still says which parameters were sent).
// The agent has already replaced secret values it knows of; this covers literal keys in a
// monitor's URL.
func RedactURL(u *url.URL) string {
	c := *u
	c.User = nil
	c.Fragment, c.RawFragment = "", ""
	if c.RawQuery != "" {
		q := c.Query()
		for k := range q {
			q[k] = []string{"REDACTED"}
		}
		c.RawQuery = q.Encode()
	}
	return c.String()
}
