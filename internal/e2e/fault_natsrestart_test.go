package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/pki"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// TestExternalNATSRestarted: the controller and an agent use an external nats-server, which is
// stopped while runs are triggered and started again on the same address. Both reconnect; runs
// dispatched while it was down are delivered from the controller's reconnect buffer or, if the
// agent was not back yet, published again as their next attempt; every run ends in one result.
func TestExternalNATSRestarted(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	srv := testutil.ControllerCAServerPEM(t, data, dir, "nats", "127.0.0.1")
	tlsBlock := fmt.Sprintf("tls {\n  cert_file: %q\n  key_file: %q\n  ca_file: %q\n  verify_and_map: true\n  timeout: 5\n}\n",
		srv.CertFile, srv.KeyFile, srv.CAFile)
	node := &natsNode{conf: filepath.Join(dir, "nats.conf"), client: freeAddr(t)}
	node.writeConf(t, tlsBlock, "", fmt.Sprintf("authorization {\n  users = [\n    { user: %q, permissions: { publish: { allow: [\"lookout.run.*\"] }, subscribe: { deny: [\">\"] } } }\n  ]\n}\n", pki.ControllerURI))
	node.start(t)

	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	t.Cleanup(target.Close)
	c := testutil.StartController(t, data, "--nats-url", "tls://"+node.client)
	a := startInstance(t, c, dir, "site-n", "private", "site-n-1")
	node.writeConf(t, tlsBlock, "", c.MustCLI(t, "", "checkpoint", "nats-config"))
	if err := node.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	a.proc.WaitFor(t, "the agent to reach NATS", 30*time.Second, testutil.Contains(`"msg":"NATS connected"`))
	c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, dir, "m.yaml", []byte(fmt.Sprintf(
		"name: restarting\ninterval: 1h\ntimeout: 5s\ncheckpoints: [site-n]\nsteps:\n  - request:\n      url: %q\n    assert:\n      - {source: status, comparison: equal, value: \"200\"}\n", target.URL))))

	runIDs := map[string]bool{}
	trigger := func(k int) {
		for range k {
			runIDs[strings.Fields(c.MustCLI(t, "", "run", "restarting"))[0]] = true
		}
	}
	trigger(4)
	node.srv.Shutdown()
	node.srv.WaitForShutdown()
	a.proc.WaitFor(t, "the agent to notice", 20*time.Second, testutil.Contains(`"msg":"NATS disconnected"`))
	trigger(4) // while NATS is down
	node.start(t)
	a.proc.WaitFor(t, "the agent to reconnect", 30*time.Second, testutil.Contains(`"msg":"NATS reconnected"`))
	trigger(4)

	const n = 12
	var perRun map[string]int
	passed := 0
	testutil.EventuallyValue(t, "a result for every run", 90*time.Second, func() (int, error) {
		perRun, passed = map[string]int{}, 0
		for _, r := range storedResults(t, c) {
			if runIDs[r.RunId] {
				perRun[r.RunId]++
				if r.Outcome == pb.Outcome_OUTCOME_PASSED {
					passed++
				}
			}
		}
		if len(perRun) < n {
			return len(perRun), fmt.Errorf("results stored for %d of %d runs (%d passed)", len(perRun), n, passed)
		}
		return len(perRun), nil
	})
	lost, twice := 0, 0
	for id := range runIDs {
		switch {
		case perRun[id] == 0:
			lost++
		case perRun[id] > 1:
			twice++
		}
	}
	t.Logf("sent %d runs (4 while NATS was down); stored %d (%d passed); lost %d; twice %d", n, len(perRun), passed, lost, twice)
	if lost != 0 || twice != 0 {
		t.Errorf("lost %d, stored twice %d", lost, twice)
	}
	if passed < n-4 {
		t.Errorf("only %d of %d runs passed; the ones before and after the outage must", passed, n)
	}
}
