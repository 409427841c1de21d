package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

func resultsLast(ctx context.Context, env Env, args []string) error {
	fs := newFlags("results last", env)
	var c conn
	c.register(fs, env)
	monitor := fs.String("monitor", "", "only this monitor")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	return callConn(ctx, &c, 30*time.Second, func(ctx context.Context, cc grpc.ClientConnInterface) error {
		resp, err := pb.NewQueryServiceClient(cc).LastResults(ctx, &pb.LastResultsRequest{Monitor: *monitor})
		if err != nil {
			return err
		}
		if c.output == "json" {
			return printJSON(env.Stdout, resp)
		}
		return printLast(env.Stdout, resp.Results, time.Now())
	})
}

func printLast(w io.Writer, rs []*pb.RunResult, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MONITOR\tCHECKPOINT\tOUTCOME\tFINISHED\tDURATION\tRUN\tMESSAGE")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%s\t%s\n", oneLine(r.MonitorName), oneLine(r.CheckpointName), outcomeWord(r.Outcome),
			ago(now, r.FinishedAt.AsTime()), runDuration(r), r.RunId, oneLine(r.Message))
	}
	return tw.Flush()
}

func outcomeWord(o pb.Outcome) string {
	return map[pb.Outcome]string{pb.Outcome_OUTCOME_PASSED: "PASS", pb.Outcome_OUTCOME_FAILED: "FAIL", pb.Outcome_OUTCOME_ERROR: "ERROR"}[o]
}

func runDuration(r *pb.RunResult) time.Duration {
	return r.FinishedAt.AsTime().Sub(r.StartedAt.AsTime()).Round(time.Millisecond)
}

func resultsShow(ctx context.Context, env Env, args []string) error {
	fs := newFlags("results show", env)
	var c conn
	c.register(fs, env)
	id, err := oneName(fs, args, "run id")
	if err != nil {
		return err
	}
	return call(ctx, &c, 30*time.Second, func(ctx context.Context, cl pb.AdminServiceClient) error {
		run, err := cl.GetRun(ctx, &pb.GetRunRequest{RunId: id})
		if err != nil {
			return err
		}
		if c.output == "json" {
			return printJSON(env.Stdout, run)
		}
		if run.Result == nil {
			fmt.Fprintf(env.Stdout, "run %s of %s @ %s has no result yet (%s)\n", run.RunId, oneLine(run.MonitorName), oneLine(run.CheckpointName), strings.ToLower(strings.TrimPrefix(run.State.String(), "RUN_STATE_")))
			return nil
		}
		showResult(env.Stdout, run.Result)
		return nil
	})
}

// showResult prints a result for a person: the run, then each step with its phases, assertions and
// extracted variables. Everything the agent or the monitored API wrote goes through oneLine.
// Variable values arrive already redacted by the agent where they are secret.
func showResult(w io.Writer, r *pb.RunResult) {
	fmt.Fprintf(w, "run %s  attempt %d\n", r.RunId, r.Attempt)
	fmt.Fprintf(w, "monitor %s @ %s  agent %s\n", oneLine(r.MonitorName), oneLine(r.CheckpointName), oneLine(r.AgentId))
	fmt.Fprintf(w, "%s  started %s  took %v\n", outcomeWord(r.Outcome), r.StartedAt.AsTime().Local().Format(time.DateTime), runDuration(r))
	if r.Message != "" {
		fmt.Fprintf(w, "message: %s\n", oneLine(r.Message))
	}
	for _, st := range r.Steps {
		fmt.Fprintln(w, "\n"+formatStep(st))
		if t := st.Timings; t != nil {
			fmt.Fprintf(w, "    phases: resolve %v  connect %v  tls %v  processing %v  transfer %v\n", ms(t.Dns.AsDuration()), ms(t.Connect.AsDuration()),
				ms(t.Tls.AsDuration()), ms(t.FirstByte.AsDuration()), ms(t.Download.AsDuration()))
		}
		for _, a := range st.Assertions {
			mark := "✓"
			if !a.Passed {
				mark = "✗"
			}
			fmt.Fprintf(w, "    %s %s (actual: %s)\n", mark, oneLine(a.Message), oneLine(a.Actual))
		}
		for _, v := range st.Variables {
			fmt.Fprintf(w, "    var %s = %s\n", oneLine(v.Name), oneLine(v.Value))
		}
	}
}

func ms(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }

func monitorStatus(ctx context.Context, env Env, args []string) error {
	fs := newFlags("monitor status", env)
	var c conn
	c.register(fs, env)
	name, err := oneName(fs, args, "monitor")
	if err != nil {
		return err
	}
	return callConn(ctx, &c, 30*time.Second, func(ctx context.Context, cc grpc.ClientConnInterface) error {
		resp, err := pb.NewQueryServiceClient(cc).MonitorStatus(ctx, &pb.MonitorStatusRequest{Monitor: name})
		if err != nil {
			return err
		}
		if c.output == "json" {
			return printJSON(env.Stdout, resp)
		}
		return printStatus(env.Stdout, resp, alertingWord(monitorStates(ctx, &c)[name]), time.Now())
	})
}

// printStatus prints a monitor's status; alerting is its alerting state word (ok, unconfirmed,
// down, muted; "-" when the controller could not say).
func printStatus(w io.Writer, s *pb.MonitorStatusResponse, alerting string, now time.Time) error {
	state := "scheduled"
	if s.Paused {
		state = "paused"
	}
	fmt.Fprintf(w, "monitor %s (%s, alerting: %s)\n\n", oneLine(s.Monitor), state, alerting)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECKPOINT\tLATEST\tFINISHED\tUPTIME 24h\t7d\t30d\tp50/p95 24h\t7d\t30d")
	row := func(name, latest, finished string, ws []*pb.WindowStats) {
		fmt.Fprintf(tw, "%s\t%s\t%s", name, latest, finished)
		for _, x := range ws {
			fmt.Fprintf(tw, "\t%s", uptime(x))
		}
		for _, x := range ws {
			fmt.Fprintf(tw, "\t%v/%v", ms(x.P50.AsDuration()), ms(x.P95.AsDuration()))
		}
		fmt.Fprintln(tw)
	}
	for _, cp := range s.Checkpoints {
		latest, finished := "-", "never"
		if r := cp.Latest; r != nil {
			latest, finished = outcomeWord(r.Outcome), ago(now, r.FinishedAt.AsTime())
		}
		row(oneLine(cp.Checkpoint), latest, finished, cp.Windows)
	}
	row("(all)", "", "", s.Windows)
	return tw.Flush()
}

func uptime(w *pb.WindowStats) string {
	if w.Runs-w.LookoutErrors <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f%%", 100*w.Uptime)
}
