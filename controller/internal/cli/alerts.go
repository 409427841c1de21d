package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

func alertsList(ctx context.Context, env Env, args []string) error {
	fs := newFlags("alerts", env)
	var c conn
	c.register(fs, env)
	open := fs.Bool("open", false, "only open alerts")
	monitor := fs.String("monitor", "", "only this monitor's alerts")
	limit := fs.Int("limit", 100, "at most this many alerts, newest first")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	return callAlerts(ctx, &c, 10*time.Second, func(ctx context.Context, cl pb.AlertServiceClient) error {
		resp, err := cl.ListAlerts(ctx, &pb.ListAlertsRequest{OpenOnly: *open, Monitor: *monitor, Limit: int32(*limit)})
		if err != nil {
			return err
		}
		if c.output == "json" {
			return printJSON(env.Stdout, resp)
		}
		if len(resp.Alerts) == 0 {
			fmt.Fprintln(env.Stdout, "no alerts")
		}
		for _, al := range resp.Alerts {
			printAlert(env.Stdout, al)
		}
		return nil
	})
}

func printAlert(w io.Writer, al *pb.Alert) {
	status := "OPEN"
	span := "since " + al.StartedAt.AsTime().Local().Format(time.DateTime)
	if al.Status == pb.AlertStatus_ALERT_STATUS_RESOLVED {
		status = "RESOLVED"
		span = fmt.Sprintf("%s – %s", al.StartedAt.AsTime().Local().Format(time.DateTime), al.ResolvedAt.AsTime().Local().Format(time.DateTime))
	}
	fmt.Fprintf(w, "%s %-8s %s  level %d  %s  failing: %s\n", al.Id, status, oneLine(al.MonitorName), al.Level, span, oneLine(strings.Join(al.CheckpointsFailing, ",")))
	if al.Message != "" {
		fmt.Fprintf(w, "    %s\n", oneLine(al.Message))
	}
	for _, n := range al.Notifications {
		fmt.Fprintf(w, "    %-16s → %-20s %s\n", n.Event.GetType(), oneLine(n.Channel), deliveryState(n))
	}
}

func deliveryState(n *pb.Notification) string {
	tries := len(n.Attempts)
	last := ""
	if tries > 0 {
		last = attemptStatus(n.Attempts[tries-1])
	}
	switch n.State {
	case pb.NotificationState_NOTIFICATION_STATE_DELIVERED:
		return fmt.Sprintf("delivered (%d attempt(s), %s)", tries, last)
	case pb.NotificationState_NOTIFICATION_STATE_FAILED:
		return fmt.Sprintf("FAILED after %d attempt(s): %s", tries, last)
	}
	if tries == 0 {
		return "pending"
	}
	return fmt.Sprintf("retrying (%d attempt(s), last: %s; next %s)", tries, last, n.NextAttemptAt.AsTime().Local().Format(time.TimeOnly))
}

func monitorMute(ctx context.Context, env Env, args []string) error {
	fs := newFlags("monitor mute", env)
	var c conn
	c.register(fs, env)
	d := fs.Duration("for", 0, "how long to mute (required), e.g. 2h")
	reason := fs.String("reason", "", "why (shown in monitor list and alerts)")
	name, err := oneName(fs, args, "monitor")
	if err != nil {
		return err
	}
	if *d <= 0 {
		return usagef("--for D is required (e.g. --for 2h)")
	}
	return setMute(ctx, env, &c, func(ctx context.Context, cl pb.AlertServiceClient) (*pb.MonitorAlertState, error) {
		return cl.MuteMonitor(ctx, &pb.MuteMonitorRequest{Name: name, For: durationpb.New(*d), Reason: *reason})
	})
}

func monitorUnmute(ctx context.Context, env Env, args []string) error {
	fs := newFlags("monitor unmute", env)
	var c conn
	c.register(fs, env)
	name, err := oneName(fs, args, "monitor")
	if err != nil {
		return err
	}
	return setMute(ctx, env, &c, func(ctx context.Context, cl pb.AlertServiceClient) (*pb.MonitorAlertState, error) {
		return cl.UnmuteMonitor(ctx, &pb.UnmuteMonitorRequest{Name: name})
	})
}

func setMute(ctx context.Context, env Env, c *conn, fn func(context.Context, pb.AlertServiceClient) (*pb.MonitorAlertState, error)) error {
	return callAlerts(ctx, c, 10*time.Second, func(ctx context.Context, cl pb.AlertServiceClient) error {
		st, err := fn(ctx, cl)
		if err != nil {
			return err
		}
		if c.output == "json" {
			return printJSON(env.Stdout, st)
		}
		if st.Muted {
			fmt.Fprintf(env.Stdout, "monitor %s muted until %s\n", oneLine(st.MonitorName), st.MutedUntil.AsTime().Local().Format(time.DateTime))
		} else {
			fmt.Fprintf(env.Stdout, "monitor %s unmuted (state %s)\n", oneLine(st.MonitorName), stateWord(st))
		}
		return nil
	})
}

// stateWord is a monitor's alerting state in one word; paused and muted first.
func stateWord(st *pb.MonitorAlertState) string {
	switch {
	case st == nil:
		return "ok"
	case st.Paused:
		return "paused"
	case st.Muted:
		return "muted"
	}
	if w := strings.ToLower(strings.TrimPrefix(st.State.String(), "MONITOR_STATE_")); w != "unspecified" {
		return w
	}
	return "ok"
}

// alertingWord is the ALERTING column of `monitor list`: ok, unconfirmed, down or muted; "-" when
// the controller did not say (an older controller without alerting).
func alertingWord(st *pb.MonitorAlertState) string {
	switch {
	case st == nil:
		return "-"
	case st.Muted:
		return "muted"
	}
	return stateWord(&pb.MonitorAlertState{State: st.State})
}

// monitorStates maps monitor names to their alerting state; empty when the controller has no
// AlertService (an older controller), so `monitor list` still works.
func monitorStates(ctx context.Context, c *conn) map[string]*pb.MonitorAlertState {
	out := map[string]*pb.MonitorAlertState{}
	_ = callAlerts(ctx, c, 10*time.Second, func(ctx context.Context, cl pb.AlertServiceClient) error {
		resp, err := cl.ListMonitorStates(ctx, &pb.ListMonitorStatesRequest{})
		for _, st := range resp.GetStates() {
			out[st.MonitorName] = st
		}
		return err
	})
	return out
}
