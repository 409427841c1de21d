package runner

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

const (
	defaultBodyCap    = 10 << 20        // bytes read per response
	excerptCap        = 64 << 10        // bytes of body kept in the result of a failing step
	passingExcerptCap = 512             // bytes of body kept for a passing step: enough to recognise the response
	defaultRunTimeout = 5 * time.Minute // when the monitor sets none
	maxAttempts       = 10              // upper bound on a step's retry.max_attempts
)

// Options configure a Runner.
type Options struct {
	Logger  *slog.Logger
	BodyCap int64          // bytes of a response read and evaluated; default 10 MiB. The excerpt is at most 64 KiB (512 bytes for a passing step).
	RootCAs *x509.CertPool // nil = system
	Now     func() time.Time
	// MaxHandshakes bounds the TLS handshakes this runner performs at once. Handshakes are CPU
	// work: with every core on them, the goroutines that read responses queue behind them. Where
	// reads learn from the kernel when their bytes arrived (Linux), a response read late is still
	// timed right, so by default there is no bound and new connections go as fast as the cores
	// allow; elsewhere the default is one less than GOMAXPROCS (at least one), a core kept for
	// reading so that firstByte and download stay accurate (docs/benchmarks.md).
	MaxHandshakes int
}

// Runner executes runs. It keeps no state between runs and is safe for
// concurrent use.
type Runner struct {
	log     *slog.Logger
	bodyCap int64
	rootCAs *x509.CertPool
	now     func() time.Time
	// handshakes holds a token per TLS handshake in progress (MaxHandshakes).
	handshakes chan struct{}
}

// New returns a Runner with opts, filling in defaults.
func New(opts Options) *Runner {
	r := &Runner{log: opts.Logger, bodyCap: opts.BodyCap, rootCAs: opts.RootCAs, now: opts.Now}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.bodyCap <= 0 {
		r.bodyCap = defaultBodyCap
	}
	if r.now == nil {
		r.now = time.Now
	}
	if opts.MaxHandshakes <= 0 && !kernelArrivals {
		opts.MaxHandshakes = max(1, runtime.GOMAXPROCS(0)-1)
	}
	if opts.MaxHandshakes > 0 {
		r.handshakes = make(chan struct{}, opts.MaxHandshakes)
	}
	return r
}

// Run executes the monitor's steps in order and returns the result. ctx
// carries the run's deadline; the monitor's timeout bounds the run too.
// Steps after a failing one are reported as skipped. Secrets never appear in
// the result: they are replaced by "[redacted]".
func (r *Runner) Run(ctx context.Context, req *lookoutv1.RunRequest, s *Secrets) *lookoutv1.RunResult {
	res := &lookoutv1.RunResult{
		RunId:        req.GetRunId(),
		Attempt:      req.GetAttempt(),
		MonitorId:    req.GetMonitor().GetId(),
		MonitorName:  req.GetMonitor().GetName(),
		CheckpointId: req.GetCheckpointId(),
		StartedAt:    timestamppb.New(r.now()),
	}
	m := req.GetMonitor()
	if m == nil {
		res.Outcome, res.ErrorClass = lookoutv1.Outcome_OUTCOME_ERROR, lookoutv1.ErrorClass_ERROR_CLASS_INTERNAL
		res.Message, res.FinishedAt = "the run request carries no monitor", timestamppb.New(r.now())
		r.logRun(res)
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, runTimeout(m))
	defer cancel()
	rs := newRunState(r, m, s)
	defer rs.transports.closeAll()
	return r.finish(res, rs.runSteps(ctx, m.GetSteps()), rs)
}

func runTimeout(m *lookoutv1.Monitor) time.Duration {
	if d := m.GetTimeout().AsDuration(); d > 0 {
		return d
	}
	return defaultRunTimeout
}

// finish sets the outcome, redacts secrets everywhere and logs the run.
func (r *Runner) finish(res *lookoutv1.RunResult, records []stepRecord, rs *runState) *lookoutv1.RunResult {
	res.Outcome = lookoutv1.Outcome_OUTCOME_PASSED
	for i, rec := range records {
		res.Steps = append(res.Steps, rec.res)
		if rec.err != nil && res.GetOutcome() == lookoutv1.Outcome_OUTCOME_PASSED {
			res.Outcome, res.ErrorClass = lookoutv1.Outcome_OUTCOME_FAILED, rec.res.GetErrorClass()
			res.Message = stepLabel(i, rec.res.GetName()) + ": " + rec.res.GetError()
		}
	}
	res.FinishedAt = timestamppb.New(r.now())
	redact := rs.redactor()
	// Servers send bytes that are not UTF-8 (in headers, cookies, bodies);
	// protobuf strings must be valid UTF-8 or the result cannot be sent.
	redactMessage(res.ProtoReflect(), func(s string) string { return strings.ToValidUTF8(redact(s), "\uFFFD") })
	for _, rec := range records {
		rec.res.BodyExcerpt = excerptOf(rec.excerpt, rec.excerptCut, rs.hidden, redact, excerptLimit(rec.res))
	}
	r.logRun(res)
	return res
}

// stepLabel names a step in run messages: `step "orders"` or `step 3`.
func stepLabel(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("step %d", i+1)
	}
	return fmt.Sprintf("step %q", name)
}

// logRun logs the (already redacted) outcome of a run.
func (r *Runner) logRun(res *lookoutv1.RunResult) {
	r.log.Info("run finished", "run_id", res.GetRunId(), "monitor", res.GetMonitorName(),
		"outcome", res.GetOutcome().String(), "error_class", res.GetErrorClass().String(), "message", res.GetMessage())
	if !r.log.Enabled(context.Background(), slog.LevelDebug) {
		return // skip building each step's attributes only to drop them
	}
	for _, st := range res.GetSteps() {
		r.log.Debug("step finished", "run_id", res.GetRunId(), "step", st.GetName(), "passed", st.GetPassed(),
			"skipped", st.GetSkipped(), "attempts", st.GetAttempts(), "error", st.GetError())
	}
}
