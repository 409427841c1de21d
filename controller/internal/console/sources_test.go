package console_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lookout-synthetics/lookout/controller/internal/console"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// alertsAndUptime stand in for what alerting and collectors will provide (branches alerting and
// collect): the console only sees these interfaces.
type alertsAndUptime struct{ muted []string }

func (a *alertsAndUptime) OpenAlerts(context.Context) ([]console.Alert, error) {
	return []console.Alert{{ID: "al_1", Monitor: "orders", State: "down", Level: 1, Checkpoints: []string{"edge-1"},
		StartedAt: time.Now().Add(-time.Hour), Message: `<b>502</b> from "orders"`}}, nil
}

func (a *alertsAndUptime) MonitorAlerts(ctx context.Context, _ string) ([]console.Alert, error) {
	return a.OpenAlerts(ctx)
}

func (a *alertsAndUptime) States(_ context.Context, ms []*pb.Monitor) (map[string]string, error) {
	out := map[string]string{}
	for _, m := range ms {
		if m.Name == "orders" {
			out[m.Id] = "down"
		}
	}
	return out, nil
}

func (a *alertsAndUptime) Uptime(_ context.Context, _ string, windows []time.Duration) ([]console.UptimeFigure, error) {
	var out []console.UptimeFigure
	for _, w := range windows {
		out = append(out, console.UptimeFigure{Window: w, Ratio: 0.9987, Runs: 1440, P50: 120 * time.Millisecond, P95: 340 * time.Millisecond})
	}
	return out, nil
}

func (a *alertsAndUptime) Mute(_ context.Context, monitor string, d time.Duration, _ string) error {
	a.muted = append(a.muted, fmt.Sprintf("%s for %s", monitor, d))
	return nil
}

func (a *alertsAndUptime) Unmute(context.Context, string) error { return nil }

// TestOptionalSourcesShowWhenWired: alerts, uptime and mute appear only when their source is wired.
func TestOptionalSourcesShowWhenWired(t *testing.T) {
	plain, _, _, _ := inProcess(t, nil)
	cl := client(t)
	signIn(t, cl, plain, "admin-secret")
	for path, absent := range map[string]string{"/": "Open alerts", "/monitors/orders": "Uptime"} {
		if page := get(t, cl, plain+path, http.StatusOK); strings.Contains(page, absent) || strings.Contains(page, `href="/alerts"`) || strings.Contains(page, "/mute") {
			t.Errorf("%s shows %q, the alerts link or a mute form without their sources", path, absent)
		}
	}
	get(t, cl, plain+"/alerts", http.StatusNotFound)

	src := &alertsAndUptime{}
	wired, _, _, _ := inProcess(t, func(o *console.Options) { o.Alerts, o.Uptime, o.Muter = src, src, src })
	cl = client(t)
	signIn(t, cl, wired, "admin-secret")
	overview := get(t, cl, wired+"/", http.StatusOK)
	for _, want := range []string{"Open alerts", `href="/alerts"`, "&lt;b&gt;502&lt;/b&gt; from &#34;orders&#34;", `<b>1</b> down`} {
		if !strings.Contains(overview, want) {
			t.Errorf("the overview lacks %q", want)
		}
	}
	monitor := get(t, cl, wired+"/monitors/orders", http.StatusOK)
	for _, want := range []string{"Uptime", "99.870%", "p95 340ms", `action="/monitors/orders/mute"`, `badge st-down">down<`} {
		if !strings.Contains(monitor, want) {
			t.Errorf("the monitor page lacks %q", want)
		}
	}
	get(t, cl, wired+"/alerts", http.StatusOK)
	if resp := mustDo(t, cl, http.MethodPost, wired+"/monitors/orders/mute", map[string][]string{"csrf": {csrfOf(t, cl, wired)}, "for": {"2h"}}); resp.StatusCode != http.StatusSeeOther || len(src.muted) != 1 || src.muted[0] != "orders for 2h0m0s" {
		t.Errorf("mute: status %d, muted %v", resp.StatusCode, src.muted)
	}
	if resp := mustDo(t, cl, http.MethodPost, wired+"/monitors/orders/mute", map[string][]string{"csrf": {csrfOf(t, cl, wired)}, "for": {"forever"}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("mute for \"forever\": status %d, want 400", resp.StatusCode)
	}
}

// TestOverviewPagesAndFilters: 450 monitors page by 200; filters by state and name.
func TestOverviewPagesAndFilters(t *testing.T) {
	base, st, x, _ := inProcess(t, nil)
	for i := range 449 {
		if _, _, _, err := st.PutMonitor(testMonitor(fmt.Sprintf("api-%03d", i))); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := st.Monitors()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		o := pb.Outcome_OUTCOME_PASSED
		if i%50 == 0 {
			o = pb.Outcome_OUTCOME_FAILED
		}
		x.Observe(&pb.RunResult{RunId: fmt.Sprintf("run_%d", i), Sequence: uint64(i + 1), MonitorId: m.Id, CheckpointName: "edge-1", Outcome: o, FinishedAt: timestamppb.Now()})
	}
	cl := client(t)
	signIn(t, cl, base, "read-secret")
	for query, want := range map[string][]string{
		"/":                      {"Showing 1–200 of 450", `rel="next"`, "<b>450</b> monitors", "<b>441</b> passing", "<b>9</b> failing"},
		"/?page=3":               {"Showing 401–450 of 450", `rel="prev"`},
		"/?state=failing":        {"Showing 1–9 of 9"},
		"/?q=api-01&state=ok":    {"Showing 1–10 of 10"},
		"/?checkpoint=elsewhere": {`data-cp="elsewhere"`, "<b>450</b> no data"},
	} {
		page := get(t, cl, base+query, http.StatusOK)
		for _, w := range want {
			if !strings.Contains(page, w) {
				t.Errorf("%s lacks %q", query, w)
			}
		}
		if rows := strings.Count(page, "<tr class=\"r-"); rows > 200 {
			t.Errorf("%s shows %d rows, more than a page", query, rows)
		}
	}
}

// TestCloseEndsEventStreams: a live page's stream ends when the console closes, so the
// controller's shutdown does not wait for browsers.
func TestCloseEndsEventStreams(t *testing.T) {
	base, _, x, c := inProcess(t, nil)
	cl := client(t)
	signIn(t, cl, base, "read-secret")
	resp, err := cl.Get(base + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("/events answered %s", ct)
	}
	r := bufio.NewReader(resp.Body)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "retry:") {
		t.Fatalf("first line %q, %v", line, err)
	}
	x.Observe(&pb.RunResult{RunId: "run_<x>", Sequence: 1, MonitorId: "mon_1", CheckpointName: "edge-1", Outcome: pb.Outcome_OUTCOME_FAILED, FinishedAt: timestamppb.Now()})
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended before the result: %v", err)
		}
		if strings.HasPrefix(line, "data: ") {
			if want := `"k":"mon_1/edge-1","c":"s-fail","r":"run_\u003cx\u003e"`; !strings.Contains(line, want) {
				t.Fatalf("event %q lacks %s", line, want)
			}
			break
		}
	}
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close still waits for an open event stream after 10s")
	}
	if _, err := io.ReadAll(r); err != nil {
		t.Fatalf("the stream did not end cleanly: %v", err)
	}
}
