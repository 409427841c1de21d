package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// TestAgentStartedWhileControllerIsDownWaitsForIt: an enrolled agent started while its controller
// (and the embedded NATS) is down keeps trying instead of exiting, and runs what it is given once
// the controller is back on the same addresses.
func TestAgentStartedWhileControllerIsDownWaitsForIt(t *testing.T) {
	dir := t.TempDir()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	t.Cleanup(target.Close)
	data := filepath.Join(dir, "data")
	flags := []string{"--grpc-listen", freeAddr(t), "--nats-listen", freeAddr(t)}
	c := testutil.StartController(t, data, flags...)
	a := startInstance(t, c, dir, "site-w", "private", "site-w-1")
	c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, dir, "m.yaml", []byte(fmt.Sprintf(
		"name: waiting\ninterval: 1h\ncheckpoints: [site-w]\nsteps:\n  - request:\n      url: %q\n    assert:\n      - {source: status, comparison: equal, value: \"200\"}\n", target.URL))))
	a.proc.Stop()
	c.Stop()

	_, agentBin := testutil.Binaries(t)
	p := testutil.Start(t, "agent site-w-1 (controller down)", agentBin, "--state-dir", filepath.Join(dir, "state-site-w-1"),
		"--instance-name", "site-w-1", "--heartbeat", "1s", "--log-format", "json")
	p.WaitFor(t, "the agent to say NATS is not reachable", 20*time.Second, testutil.Contains(`"msg":"NATS is not reachable yet; runs will arrive once it is"`))
	p.WaitFor(t, "a few failed heartbeats", 20*time.Second, func(out string) string {
		if strings.Count(out, `"msg":"heartbeat failed"`) >= 2 {
			return "ok"
		}
		return ""
	})
	if p.Exited() {
		t.Fatalf("the agent exited while the controller was down:\n%s", p.Output())
	}

	c = testutil.StartController(t, data, flags...)
	p.WaitFor(t, "the agent to reach NATS", 30*time.Second, testutil.Contains(`"msg":"NATS connected"`))
	if r := c.CLI(t, "", "run", "waiting", "--wait", "--timeout", "60s"); r.Code != 0 {
		t.Fatalf("run after the controller came back: exit %d\n%s%s\nagent:\n%s", r.Code, r.Stdout, r.Stderr, p.Output())
	}
}
