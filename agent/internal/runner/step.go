package runner

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"time"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"google.golang.org/protobuf/types/known/durationpb"
)

// stepRecord is a step's result plus what finish needs to complete it.
type stepRecord struct {
	res     *lookoutv1.StepResult
	err     error
	excerpt []byte // start of the body, redacted and cut when the run ends
	// excerptCut says the body went on past excerpt (or past what was read of it)
	excerptCut bool
	vars       []*lookoutv1.ExtractedVariable
}

// runSteps runs the steps in order; after a failure the rest are skipped.
func (rs *runState) runSteps(ctx context.Context, steps []*lookoutv1.Step) []stepRecord {
	records := make([]stepRecord, 0, len(steps))
	failed := false
	for i, step := range steps {
		if failed {
			records = append(records, skipped(i, step))
			continue
		}
		rec := rs.runStep(ctx, i, step)
		failed = rec.err != nil
		records = append(records, rec)
	}
	return records
}

func skipped(i int, step *lookoutv1.Step) stepRecord {
	return stepRecord{res: &lookoutv1.StepResult{Index: int32(i), Name: step.GetName(), Skipped: true, Wait: step.GetWait()}}
}

// runStep runs one step (with its retries) and completes its result.
func (rs *runState) runStep(ctx context.Context, i int, step *lookoutv1.Step) stepRecord {
	start := time.Now()
	var rec stepRecord
	switch {
	case step.GetRequest() != nil:
		rec = rs.runHTTP(ctx, step)
	case step.GetWait() != nil:
		rec = runWait(ctx, step.GetWait().AsDuration())
		rec.res.Wait = step.GetWait()
	default:
		rec = stepRecord{res: &lookoutv1.StepResult{Attempts: 1},
			err: failf(lookoutv1.ErrorClass_ERROR_CLASS_INTERNAL, "the step has neither a request nor a wait")}
	}
	rec.res.Index, rec.res.Name = int32(i), step.GetName()
	rec.res.Duration = durationpb.New(time.Since(start))
	rec.res.Passed = rec.err == nil
	if rec.err != nil {
		rec.res.ErrorClass, rec.res.Error = classOf(rec.err)
	}
	return rec
}

// runWait sleeps for d unless the run ends first.
func runWait(ctx context.Context, d time.Duration) stepRecord {
	rec := stepRecord{res: &lookoutv1.StepResult{Attempts: 1}}
	if !sleep(ctx, d) {
		rec.err = contextError(ctx, "during the wait")
	}
	return rec
}

// sleep waits for d and reports false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// contextError explains why the run's context ended.
func contextError(ctx context.Context, where string) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return failf(lookoutv1.ErrorClass_ERROR_CLASS_INTERNAL, "the run was canceled %s", where)
	}
	return failf(lookoutv1.ErrorClass_ERROR_CLASS_TIMEOUT, "the run's time limit was reached %s", where)
}

// runHTTP runs an HTTP step, retrying failed attempts as the step allows.
func (rs *runState) runHTTP(ctx context.Context, step *lookoutv1.Step) stepRecord {
	limit := min(max(int(step.GetRetry().GetMaxAttempts()), 1), maxAttempts)
	wait := step.GetRetry().GetWait().AsDuration()
	var rec stepRecord
	for attempt := 1; ; attempt++ {
		rec = rs.attemptWithTimeout(ctx, step)
		rec.res.Attempts = int32(attempt)
		if rec.err == nil || attempt >= limit || !retryable(rec.err) || !sleep(ctx, wait) {
			break
		}
	}
	rs.assign(extracted(rec.vars))
	return rec
}

// attemptWithTimeout runs one attempt bounded by the step's timeout and
// words timeouts by which limit was hit.
func (rs *runState) attemptWithTimeout(ctx context.Context, step *lookoutv1.Step) stepRecord {
	actx, cancel := ctx, context.CancelFunc(func() {})
	timeout := step.GetTimeout().AsDuration()
	if timeout > 0 {
		actx, cancel = context.WithTimeout(ctx, timeout)
	}
	defer cancel()
	rec := rs.attemptHTTP(actx, step)
	if rec.err == nil || actx.Err() == nil || !transportFailure(rec.err) {
		return rec
	}
	phase := phaseOf(rec.err)
	if ctx.Err() != nil {
		rec.err = contextError(ctx, phase)
	} else {
		rec.err = failf(lookoutv1.ErrorClass_ERROR_CLASS_TIMEOUT, "the step timeout of %s was reached %s", timeout, phase)
	}
	return rec
}

// transportFailure is true for failures of the exchange itself, as opposed
// to the checks of a response that did arrive.
func transportFailure(err error) bool {
	switch class, _ := classOf(err); class {
	case lookoutv1.ErrorClass_ERROR_CLASS_ASSERTION, lookoutv1.ErrorClass_ERROR_CLASS_EXTRACTION:
		return false
	}
	return true
}

// attemptHTTP runs the phases of one attempt: resolve variables, pick the
// client identity, exchange, then extract and assert.
func (rs *runState) attemptHTTP(ctx context.Context, step *lookoutv1.Step) stepRecord {
	rec := stepRecord{res: &lookoutv1.StepResult{}}
	if rs.unavailable != nil {
		rec.res.Method, rec.res.Url = step.GetRequest().GetMethod(), step.GetRequest().GetUrl()
		rec.err = rs.unavailable
		return rec
	}
	p, err := rs.resolveRequest(step.GetRequest())
	rec.res.Method, rec.res.Url = p.method, p.url
	if err != nil {
		rec.err = err
		return rec
	}
	id, err := rs.pickIdentity(step.GetRequest().GetClientCertificate())
	rec.res.ClientCertificate = id.info
	if err != nil {
		rec.err = err
		return rec
	}
	rsp, err := rs.exchange(ctx, step, p, id, rec.res)
	if rsp != nil {
		rec.excerpt = bytes.Clone(rsp.body[:min(len(rsp.body), excerptCap)])
		rec.excerptCut = len(rsp.body) > excerptCap || rsp.truncated
	}
	if err != nil {
		rec.err = err
		return rec
	}
	rec.err = rs.check(step, rsp, &rec)
	return rec
}

// check extracts variables and evaluates every assertion. An assertion
// failure is reported before an extraction failure: it is usually the cause.
func (rs *runState) check(step *lookoutv1.Step, rsp *response, rec *stepRecord) error {
	vars, exErr := extractAll(step.GetExtract(), rsp)
	for _, v := range vars {
		if rs.secretVars[v.GetName()] {
			rs.hide(secretForms(v.GetValue())...)
		}
	}
	rec.vars, rec.res.Variables = vars, vars
	results, asErr := evaluateAll(step.GetAssert(), rsp, rs.now(), rs.expand, rs.redactor())
	rec.res.Assertions = results
	if asErr != nil {
		return asErr
	}
	return exErr
}

// excerptText makes the body excerpt valid UTF-8 and at most limit bytes.
func excerptText(s string, limit int) string {
	return clipUTF8(strings.ToValidUTF8(s, "\uFFFD"), limit)
}

// excerptLimit is how much of its body a step's result keeps: the capped excerpt when the step
// failed (what a user debugging it reads), a short one when it passed. Results are stored for
// weeks and most pass: their excerpts were most of the store's bytes.
func excerptLimit(st *lookoutv1.StepResult) int {
	if st.GetPassed() {
		return passingExcerptCap
	}
	return excerptCap
}
