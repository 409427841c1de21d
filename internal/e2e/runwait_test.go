package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// TestRunWaitTimeoutLeavesTheRunRunning (issue 19): `run --wait --timeout D` with D shorter than
// the run says which run is still running and how to see it, exits 3 (not 1: nothing failed), and
// the run goes on to a stored result.
func TestRunWaitTimeoutLeavesTheRunRunning(t *testing.T) {
	dir := t.TempDir()
	target, release := heldTarget(t)
	c := testutil.StartController(t, filepath.Join(dir, "data"))
	startInstance(t, c, dir, "site-w", "private", "site-w-1")
	c.MustCLI(t, "", "monitor", "apply", "--paused", "-f", testutil.WriteFile(t, dir, "m.yaml", []byte(fmt.Sprintf(
		"name: held\ninterval: 1h\ntimeout: 2m\ncheckpoints: [site-w]\nsteps:\n  - request:\n      url: %q\n", target.URL))))

	r := c.CLI(t, "", "run", "held", "--wait", "--timeout", "2s")
	m := regexp.MustCompile(`run (run_\S+) still running after 2s \(--timeout\); see it with ` + "`" + `lookout-controller results show (run_\S+)` + "`").FindStringSubmatch(r.Stderr)
	if r.Code != 3 || m == nil || m[1] != m[2] || strings.Contains(r.Stdout+r.Stderr, "deadline exceeded") {
		t.Fatalf("run --wait --timeout 2s on a run that takes longer: exit %d\nstdout: %s\nstderr: %s\nwant exit 3 and the run named as still running", r.Code, r.Stdout, r.Stderr)
	}
	runID := m[1]

	release()
	testutil.Eventually(t, "the run the wait gave up on to end with a result", 60*time.Second, func() bool {
		return strings.Contains(c.MustCLI(t, "", "results", "show", runID), "PASS")
	})
}

// heldTarget is an HTTP target whose requests wait until release is called (or the request ends),
// then answer "ok"; from then on it answers at once. The test's end releases it too.
func heldTarget(t *testing.T) (*httptest.Server, func()) {
	t.Helper()
	held := make(chan struct{})
	release := sync.OnceFunc(func() { close(held) })
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-held:
		case <-r.Context().Done():
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(target.Close)
	t.Cleanup(release) // runs first: the handlers return before the server closes
	return target, release
}

// TestRunVerbosePrintsEachStep (issue 19): `run --wait -v` prints every step as `results show`
// does: request (a secret in its URL redacted), status, timing phases and every assertion with its
// actual value, passed ones too.
func TestRunVerbosePrintsEachStep(t *testing.T) {
	dir := t.TempDir()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"OK"}`)
	}))
	t.Cleanup(target.Close)
	c := testutil.StartController(t, filepath.Join(dir, "data"))
	startInstance(t, c, dir, "site-v", "private", "site-v-1")
	const secret = "sk_verbose-Very.Secret-9902"
	c.MustCLI(t, secret+"\n", "vault", "add-secret", "partner-key")
	src := fmt.Sprintf(`name: verbose
interval: 1h
timeout: 30s
checkpoints: [site-v]
secret_variables: {key: partner-key}
steps:
  - name: first
    request: {url: %q}
    assert:
      - {source: status, comparison: equal, value: "200"}
  - name: second
    request: {method: POST, url: %q}
    assert:
      - {source: json, path: "$.status", comparison: equal, value: "OK"}
`, target.URL+"/one", target.URL+"/two?key={{key}}")
	c.MustCLI(t, "", "monitor", "apply", "--paused", "-f", testutil.WriteFile(t, dir, "m.yaml", []byte(src)))

	plain := c.CLI(t, "", "run", "verbose", "--wait", "--timeout", "60s")
	r := c.CLI(t, "", "run", "verbose", "--wait", "-v", "--timeout", "60s")
	if plain.Code != 0 || r.Code != 0 {
		t.Fatalf("run --wait: exit %d and with -v %d\n%s%s\n%s%s", plain.Code, r.Code, plain.Stdout, plain.Stderr, r.Stdout, r.Stderr)
	}
	for _, want := range []string{
		"1. first  GET " + target.URL + "/one → 200 in ",
		"2. second  POST " + target.URL + "/two?key=[redacted] → 200 in ",
		"phases: resolve ",
		"✓ ", "(actual: 200)", "(actual: OK)",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("run --wait -v does not print %q:\n%s", want, r.Stdout)
		}
	}
	if strings.Contains(r.Stdout+r.Stderr, secret) {
		t.Errorf("run --wait -v shows the secret:\n%s", r.Stdout)
	}
	if strings.Contains(plain.Stdout, "phases:") || strings.Contains(plain.Stdout, "(actual:") {
		t.Errorf("run --wait without -v prints the steps in full:\n%s", plain.Stdout)
	}
	if u := c.CLI(t, "", "run", "verbose", "-v"); u.Code != 2 || !strings.Contains(u.Stderr, "use it with --wait") {
		t.Errorf("run -v without --wait: exit %d\n%s", u.Code, u.Stderr)
	}
}
