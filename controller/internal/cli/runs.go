package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// ErrRunFailed makes `run --wait` exit non-zero when a run did not pass.
var ErrRunFailed = errors.New("run did not pass")

// ErrStillRunning makes `run --wait` exit with a code of its own when --timeout ended the wait
// before a run ended: the run goes on, and `results show` shows it later.
var ErrStillRunning = errors.New("run still running")

// StillRunningError names the runs --timeout stopped waiting for.
type StillRunningError struct {
	RunIDs []string
	After  time.Duration // the --timeout
}

func (e *StillRunningError) Error() string {
	ids := strings.Join(e.RunIDs, ", ")
	word := "run"
	if len(e.RunIDs) > 1 {
		word = "runs"
	}
	return fmt.Sprintf("%s %s still running after %v (--timeout); see it with `lookout-controller results show %s`", word, ids, e.After, e.RunIDs[0])
}

func (e *StillRunningError) Is(target error) bool { return target == ErrStillRunning }

// runOptions are the flags of `run` that shape the wait.
type runOptions struct {
	wait, verbose bool
	timeout       time.Duration
}

func runMonitor(ctx context.Context, env Env, args []string) error {
	fs := newFlags("run", env)
	var c conn
	c.register(fs, env)
	cp := fs.String("checkpoint", "", "run from this checkpoint only")
	var o runOptions
	fs.BoolVar(&o.wait, "wait", false, "wait for the results; exit 0 only if every run passed")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "with --wait: stop waiting after this long (the run goes on; exit code 3)")
	fs.BoolVar(&o.verbose, "v", false, "with --wait: print each step in full (request, status, timings, every assertion)")
	name, err := oneName(fs, args, "monitor")
	if err != nil {
		return err
	}
	if o.verbose && !o.wait {
		return &UsageError{Msg: "run: -v prints the steps of the results: use it with --wait"}
	}
	cc, err := c.dial()
	if err != nil {
		return err
	}
	defer cc.Close()
	cl := pb.NewAdminServiceClient(cc)
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	resp, err := cl.TriggerRun(tctx, &pb.TriggerRunRequest{Monitor: name, Checkpoint: *cp})
	cancel()
	if err != nil {
		return c.explain(err)
	}
	if !o.wait {
		for _, r := range resp.Runs {
			fmt.Fprintf(env.Stdout, "%s\t%s\n", oneLine(r.RunId), oneLine(r.CheckpointName))
		}
		return nil
	}
	return waitRuns(ctx, env, &c, cl, resp.Runs, o)
}

func waitRuns(ctx context.Context, env Env, c *conn, cl pb.AdminServiceClient, runs []*pb.Run, o runOptions) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	failed := false
	for i, r := range runs {
		done, err := waitRun(ctx, c, cl, r)
		if errors.Is(err, context.DeadlineExceeded) {
			return stillRunning(runs[i:], o.timeout)
		}
		if err != nil {
			return err
		}
		if err := printRunResult(env.Stdout, c, done.Result, o.verbose); err != nil {
			return err
		}
		failed = failed || done.Result.Outcome != pb.Outcome_OUTCOME_PASSED
	}
	if failed {
		return ErrRunFailed
	}
	return nil
}

func stillRunning(runs []*pb.Run, after time.Duration) error {
	e := &StillRunningError{After: after}
	for _, r := range runs {
		e.RunIDs = append(e.RunIDs, oneLine(r.RunId))
	}
	return e
}

// printRunResult prints a result `run --wait` waited for: every step on a line, or with -v each
// step in full as `results show` prints it.
func printRunResult(w io.Writer, c *conn, res *pb.RunResult, verbose bool) error {
	switch {
	case c.output == "json":
		return printJSON(w, res)
	case verbose:
		showResult(w, res)
		fmt.Fprintln(w)
	default:
		printResult(w, res, true)
	}
	return nil
}

// waitRun polls r until it is done. When ctx's deadline passes first it returns an error that
// wraps context.DeadlineExceeded, whether it was waiting or asking.
func waitRun(ctx context.Context, c *conn, cl pb.AdminServiceClient, r *pb.Run) (*pb.Run, error) {
	for r.State != pb.RunState_RUN_STATE_DONE {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("gave up waiting for run %s: %w", r.RunId, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
		next, err := cl.GetRun(ctx, &pb.GetRunRequest{RunId: r.RunId})
		if ctx.Err() != nil {
			return nil, fmt.Errorf("gave up waiting for run %s: %w", r.RunId, ctx.Err())
		}
		if err != nil {
			return nil, c.explain(err)
		}
		r = next
	}
	return r, nil
}

func resultsTail(ctx context.Context, env Env, args []string) error {
	fs := newFlags("results tail", env)
	var c conn
	c.register(fs, env)
	monitor := fs.String("monitor", "", "only this monitor")
	checkpoint := fs.String("checkpoint", "", "only this checkpoint")
	failed := fs.Bool("failed", false, "only results that did not pass")
	since := fs.String("since", "", "print stored results from this long ago (1h) or this time (RFC 3339) first")
	fromStart := fs.Bool("from-start", false, "print stored results first")
	count := fs.Int("count", 0, "stop after this many results (0: run until interrupted)")
	verbose := fs.Bool("v", false, "print every step, not only failing ones")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	req := &pb.StreamResultsRequest{Monitor: *monitor, Checkpoint: *checkpoint, FailedOnly: *failed, FromStart: *fromStart}
	if *since != "" {
		t, err := parseSince(*since, time.Now())
		if err != nil {
			return err
		}
		req.Since = timestamppb.New(t)
	}
	cc, err := c.dial()
	if err != nil {
		return err
	}
	defer cc.Close()
	stream, err := pb.NewResultServiceClient(cc).StreamResults(ctx, req)
	if err != nil {
		return c.explain(err)
	}
	for n := 0; *count == 0 || n < *count; n++ {
		res, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) || status.Code(err) == codes.Canceled || ctx.Err() != nil {
				return nil
			}
			return c.explain(err)
		}
		if c.output == "json" {
			if err := printJSON(env.Stdout, res); err != nil {
				return err
			}
			continue
		}
		printResult(env.Stdout, res, *verbose)
	}
	return nil
}

// printResult writes a result as one readable line, then its failing (or, verbose, all) steps.
func printResult(w io.Writer, res *pb.RunResult, verbose bool) {
	fmt.Fprintln(w, FormatResult(res))
	for _, st := range res.Steps {
		if verbose || (!st.Passed && !st.Skipped) {
			fmt.Fprintln(w, "    "+formatStep(st))
		}
	}
}

// FormatResult is the one-line form of a result, used by `results tail` and `dev`.
func FormatResult(res *pb.RunResult) string {
	word := map[pb.Outcome]string{pb.Outcome_OUTCOME_PASSED: "PASS", pb.Outcome_OUTCOME_FAILED: "FAIL", pb.Outcome_OUTCOME_ERROR: "ERROR"}[res.Outcome]
	dur := res.FinishedAt.AsTime().Sub(res.StartedAt.AsTime()).Round(time.Millisecond)
	line := fmt.Sprintf("%s %-5s %s @ %s  %s %v", res.FinishedAt.AsTime().Local().Format("15:04:05"), word, oneLine(res.MonitorName), oneLine(res.CheckpointName), stepCount(res.Steps), dur)
	if res.Confirmation {
		line += "  (confirmation)"
	}
	if res.Outcome != pb.Outcome_OUTCOME_PASSED {
		line += "  — " + oneLine(res.Message)
	}
	return line
}

// stepCount says how many requests and waits a result has: "3 requests, 1 wait".
func stepCount(steps []*pb.StepResult) string {
	waits := 0
	for _, st := range steps {
		if st.Wait != nil {
			waits++
		}
	}
	s := plural(len(steps)-waits, "request")
	if waits > 0 {
		s += ", " + plural(waits, "wait")
	}
	return s
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func formatStep(st *pb.StepResult) string {
	var b strings.Builder
	mark := "ok  "
	switch {
	case st.Skipped:
		mark = "skip"
	case !st.Passed:
		mark = "FAIL"
	}
	fmt.Fprintf(&b, "%s %d. %s", mark, st.Index+1, oneLine(st.Name))
	if st.Wait != nil {
		fmt.Fprintf(&b, "  wait %v", st.Wait.AsDuration())
		if st.Error != "" {
			fmt.Fprintf(&b, "  — %s", oneLine(st.Error))
		}
		return b.String()
	}
	if st.Method != "" {
		fmt.Fprintf(&b, "  %s %s", oneLine(st.Method), oneLine(st.Url))
	}
	if st.StatusCode != 0 {
		fmt.Fprintf(&b, " → %d", st.StatusCode)
	}
	if st.Duration != nil {
		fmt.Fprintf(&b, " in %v", st.Duration.AsDuration().Round(time.Millisecond))
	}
	if cc := st.ClientCertificate; cc != nil {
		fmt.Fprintf(&b, " [cert %s]", oneLine(cc.Subject))
	}
	if st.Error != "" {
		fmt.Fprintf(&b, "  — %s", oneLine(st.Error))
	}
	for _, a := range st.Assertions {
		if !a.Passed {
			fmt.Fprintf(&b, "\n         ✗ %s", oneLine(a.Message))
		}
	}
	return b.String()
}
