package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// TestWaitStepPrintedAsAWait: `run --wait` (which prints every step) prints a wait step as "wait 300ms", not as a request
// with empty fields, and the result line counts requests and waits apart.
func TestWaitStepPrintedAsAWait(t *testing.T) {
	dir := t.TempDir()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	t.Cleanup(target.Close)
	c := testutil.StartController(t, filepath.Join(dir, "data"))
	startInstance(t, c, dir, "site-w", "private", "site-w-1")
	step := fmt.Sprintf("  - name: get\n    request:\n      url: %q\n", target.URL)
	src := "name: pause\ninterval: 1h\ntimeout: 10s\ncheckpoints: [site-w]\nsteps:\n" + step + "  - name: breathe\n    wait: 300ms\n" + step + step
	c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, dir, "pause.yaml", []byte(src)))
	r := c.CLI(t, "", "run", "pause", "--wait", "--timeout", "60s")
	if r.Code != 0 {
		t.Fatalf("run --wait: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	for _, want := range []string{
		`PASS\s+pause @ site-w\s+3 requests, 1 wait `,
		`(?m)^\s+ok\s+2\. breathe\s+wait 300ms$`,
		`(?m)^\s+ok\s+1\. get\s+GET http://127\.0\.0\.1:\d+ → 200`,
	} {
		if !regexp.MustCompile(want).MatchString(r.Stdout) {
			t.Errorf("run --wait output has no line matching %q:\n%s", want, r.Stdout)
		}
	}
}
