package console_test

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lookout-synthetics/lookout/controller/internal/console"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// TestLiveEventsCarryTheAlertingState: with alerting, each live result carries its monitor's
// alerting state after it, so an open overview's row turns to down (or back to ok) without a
// reload; without alerting, events carry no state and rows follow their cells.
func TestLiveEventsCarryTheAlertingState(t *testing.T) {
	for _, tc := range []struct {
		name string
		with func(*console.Options)
		want string
	}{
		{"alerting", func(o *console.Options) { o.Alerts = &alertsAndUptime{} }, `"s":"down"`},
		{"no alerting", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, st, x, _ := inProcess(t, tc.with)
			ms, err := st.Monitors()
			if err != nil || len(ms) != 1 {
				t.Fatalf("monitors %v, %v", ms, err)
			}
			cl := client(t)
			signIn(t, cl, base, "read-secret")
			resp, err := cl.Get(base + "/events")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			r := bufio.NewReader(resp.Body)
			if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "retry:") {
				t.Fatalf("first line %q, %v", line, err)
			}
			x.Observe(&pb.RunResult{RunId: "run_1", Sequence: 1, MonitorId: ms[0].Id, CheckpointName: "edge-1", Outcome: pb.Outcome_OUTCOME_FAILED, FinishedAt: timestamppb.Now()})
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					t.Fatalf("stream ended before the result: %v", err)
				}
				if !strings.HasPrefix(line, "data: ") {
					continue
				}
				if tc.want != "" && !strings.Contains(line, tc.want) {
					t.Errorf("event %q lacks the monitor's alerting state %s", line, tc.want)
				}
				if tc.want == "" && strings.Contains(line, `"s":`) {
					t.Errorf("event %q carries a state without alerting", line)
				}
				return
			}
		})
	}
}

// switchableStates is alerting whose monitors are all in one state, changed by the test.
type switchableStates struct {
	mu    sync.Mutex
	state string
}

func (a *switchableStates) set(s string) { a.mu.Lock(); a.state = s; a.mu.Unlock() }

func (a *switchableStates) OpenAlerts(context.Context) ([]console.Alert, error) { return nil, nil }

func (a *switchableStates) MonitorAlerts(context.Context, string) ([]console.Alert, error) {
	return nil, nil
}

func (a *switchableStates) States(_ context.Context, ms []*pb.Monitor) (map[string]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]string{}
	for _, m := range ms {
		out[m.Id] = a.state
	}
	return out, nil
}

// TestBrowserRowFollowsAlertingLive: in Chromium, an open overview's row turns down when a result
// brings its monitor's alert, and back to ok with the recovery, without a reload.
func TestBrowserRowFollowsAlertingLive(t *testing.T) {
	ctx := browser(t)
	states := &switchableStates{state: "ok"}
	base, st, x, _ := inProcess(t, func(o *console.Options) { o.Alerts = states })
	ms, err := st.Monitors()
	if err != nil || len(ms) != 1 {
		t.Fatalf("monitors %v, %v", ms, err)
	}
	browserSignIn(t, ctx, base, "read-secret")
	do(t, ctx, "waiting for the live stream", chromedp.Poll[chromedp.Void](`document.getElementById("live").classList.contains("on")`, chromedp.WithPollingTimeout(20*time.Second)))
	eval[string](t, ctx, `window.__marker = "no reload"`)
	row := `document.querySelector('#grid tr[data-m]').className`
	for i, step := range []struct {
		state   string
		outcome pb.Outcome
	}{{"down", pb.Outcome_OUTCOME_FAILED}, {"ok", pb.Outcome_OUTCOME_PASSED}} {
		states.set(step.state)
		x.Observe(&pb.RunResult{RunId: fmt.Sprintf("run_%d", i), Sequence: uint64(i + 1), MonitorId: ms[0].Id, CheckpointName: "edge-1", Outcome: step.outcome, FinishedAt: timestamppb.Now()})
		do(t, ctx, "waiting for the row to turn "+step.state, chromedp.Poll[chromedp.Void](row+` === "r-`+step.state+`"`, chromedp.WithPollingTimeout(20*time.Second)))
	}
	if got := eval[string](t, ctx, `window.__marker`); got != "no reload" {
		t.Fatalf("the page was reloaded (marker %q): the state must arrive over /events", got)
	}
}
