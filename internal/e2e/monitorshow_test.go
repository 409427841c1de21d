package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// TestMonitorShowRoundTrips: `monitor show` prints the monitor in the format `monitor apply -f`
// reads, and applying that output again changes nothing.
func TestMonitorShowRoundTrips(t *testing.T) {
	dir := t.TempDir()
	c := testutil.StartController(t, filepath.Join(dir, "data"))
	c.MustCLI(t, "", "checkpoint", "token", "--name", "show-site", "--kind", "private")
	c.MustCLI(t, "", "vault", "add-credentials", "--name", "api-login", "--username", "u", "--password-stdin")
	src := `name: round-trip
interval: 5m
timeout: 20s
checkpoints: [show-site]
variables: {base: "http://127.0.0.1:9"}
steps:
  - name: log in
    request:
      method: POST
      url: "{{base}}/login"
      headers: {Accept: application/json}
      form:
        - {name: user, value: "{{@RandomGuid}}"}
      auth: {type: digest, credentials: api-login}
      tls: {min_version: "1.2", server_name: api.example}
    retry: {max_attempts: 3, wait: 2s}
    extract:
      - {name: token, from: json, path: $.token}
    assert:
      - {source: status, comparison: equal, value: "200"}
      - {source: json, path: "items[0].id", comparison: exists}
  - name: pause
    wait: 1500ms
  - name: call
    timeout: 5s
    request:
      url: "{{base}}/items"
      auth: {type: bearer, token: "{{token}}"}
    assert:
      - {source: body, comparison: contains, value: ok}
`
	if out := c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, dir, "m.yaml", []byte(src))); !strings.Contains(out, "created") {
		t.Fatalf("first apply: %s", out)
	}
	shown := c.MustCLI(t, "", "monitor", "show", "round-trip")
	for _, w := range []string{"# monitor ", "version 1", "name: round-trip", "wait: 1.5s", "type: digest", "max_attempts: 3"} {
		if !strings.Contains(shown, w) {
			t.Errorf("monitor show does not hold %q:\n%s", w, shown)
		}
	}
	if out := c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, dir, "shown.yaml", []byte(shown))); !strings.Contains(out, "unchanged") {
		t.Fatalf("applying what monitor show printed changed the monitor: %s\n%s", out, shown)
	}
	if again := c.MustCLI(t, "", "monitor", "show", "round-trip"); again != shown {
		t.Errorf("monitor show differs after re-applying its output:\n%s\nthen\n%s", shown, again)
	}

	// Pausing is the operator's state, not the file's: applying the file again keeps it.
	if out := c.MustCLI(t, "", "monitor", "pause", "round-trip"); !strings.Contains(out, "paused") {
		t.Errorf("monitor pause: %s", out)
	}
	if out := c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, dir, "again.yaml", []byte(src))); !strings.Contains(out, "unchanged") {
		t.Errorf("applying the same file to a paused monitor: %s", out)
	}
	if list := c.MustCLI(t, "", "monitor", "list"); !strings.Contains(list, "paused") {
		t.Errorf("monitor list does not show the monitor paused after re-applying its file:\n%s", list)
	}
	if out := c.MustCLI(t, "", "monitor", "show", "round-trip"); !strings.Contains(out, "version 1") || !strings.Contains(out, ", paused") {
		t.Errorf("monitor show of a paused monitor:\n%s", out)
	}
	c.MustCLI(t, "", "monitor", "resume", "round-trip")
	if list := c.MustCLI(t, "", "monitor", "list"); strings.Contains(list, "paused") || !strings.Contains(list, "active") {
		t.Errorf("monitor list after resume:\n%s", list)
	}
	if r := c.CLI(t, "", "monitor", "pause", "no-such"); r.Code == 0 || !strings.Contains(r.Stderr, `"no-such"`) || !strings.Contains(r.Stderr, "not found") {
		t.Errorf("pausing a monitor that does not exist: exit %d, stderr %q", r.Code, r.Stderr)
	}
}

// TestApplyPaused: `monitor apply --paused` stores a monitor without running it; re-applying its
// file keeps it paused; once resumed it runs on its slot within one interval; and --paused pauses
// a live monitor without making a new version. A real agent runs the monitors (their target
// refuses the connection, so each run fails fast with a stored result).
func TestApplyPaused(t *testing.T) {
	dir := t.TempDir()
	metricsAddr := freeAddr(t)
	c := testutil.StartController(t, filepath.Join(dir, "data"), "--metrics-listen", metricsAddr)
	tok := strings.TrimSpace(c.MustCLI(t, "", "checkpoint", "token", "--name", "stage-site", "--kind", "public"))
	_, agentBin := testutil.Binaries(t)
	agent := testutil.Start(t, "agent stage-site", agentBin, "--controller", c.Addr, "--token-file", testutil.WriteFile(t, dir, "a.token", []byte(tok)),
		"--state-dir", filepath.Join(dir, "agent"), "--ca-file", c.CAFile, "--log-format", "json")
	agent.WaitFor(t, "agent to be ready", 30*time.Second, testutil.Contains(`"msg":"agent ready"`))
	file := func(name, interval string) string {
		return testutil.WriteFile(t, dir, name+".yaml", []byte(fmt.Sprintf(
			"name: %s\ninterval: %s\ntimeout: 5s\ncheckpoints: [stage-site]\nsteps:\n  - request:\n      url: \"http://127.0.0.1:9/\"\n", name, interval)))
	}
	dispatched := func() float64 { return metric(t, metricsAddr, "lookout_runs_dispatched_total") }
	firstResult := func(monitor string) {
		t.Helper()
		out := c.MustCLI(t, "", "results", "tail", "--from-start", "--monitor", monitor, "--count", "1", "-o", "json")
		res := &pb.RunResult{}
		if err := protojson.Unmarshal([]byte(out), res); err != nil || res.MonitorName != monitor {
			t.Fatalf("results tail --monitor %s printed %q (%v)", monitor, out, err)
		}
	}

	staged := file("staged", "10s")
	if out := c.MustCLI(t, "", "monitor", "apply", "--paused", "-f", staged); !strings.Contains(out, "created (version 1, paused)") {
		t.Fatalf("monitor apply --paused: %s", out)
	}
	c.MustCLI(t, "", "monitor", "apply", "-f", file("live", "1h"))
	// The scheduler dispatches rounds one after another and counts a round's runs before starting
	// the next. Had the staged monitor been scheduled, its round (it was applied first) would be
	// counted by the time the live monitor's run has a result.
	firstResult("live")
	if n := dispatched(); n != 1 {
		t.Fatalf("%v runs dispatched, want 1 (the live monitor's; the staged one is paused)", n)
	}
	// The store's group commits are measured (the applies and the run record were commits).
	if n, w := metric(t, metricsAddr, "lookout_store_commit_seconds_count"), metric(t, metricsAddr, "lookout_store_commit_writes_sum"); n < 1 || w < n {
		t.Errorf("lookout_store_commit_seconds_count %v, lookout_store_commit_writes_sum %v: want at least one commit of at least one write", n, w)
	}
	if out := c.MustCLI(t, "", "monitor", "apply", "-f", staged); !strings.Contains(out, "unchanged (version 1, paused)") {
		t.Errorf("re-applying the staged monitor's file without --paused: %s", out)
	}
	c.MustCLI(t, "", "monitor", "resume", "staged")
	firstResult("staged") // on its slot, within its 10 s interval

	if out := c.MustCLI(t, "", "monitor", "apply", "--paused", "-f", file("live", "1h")); !strings.Contains(out, "(version 1, paused)") {
		t.Errorf("monitor apply --paused of a live monitor: %s", out)
	}
	if list := c.MustCLI(t, "", "monitor", "list"); !strings.Contains(list, "live") || strings.Count(list, "paused") != 1 {
		t.Errorf("after pausing live by apply and resuming staged, monitor list:\n%s", list)
	}
}
