package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// TestRunWaitShowsTheStoredResult: the run record points at its stored (compressed) result, and
// `run --wait -o json` still shows the whole result: the passing step with a short body excerpt,
// the failing one with the body a user needs. A run that uses no secret leaves no audit entry.
func TestRunWaitShowsTheStoredResult(t *testing.T) {
	page := strings.Repeat("<p>upstream connect error</p>", 100) // 2,900 bytes
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprint(w, page)
	}))
	t.Cleanup(target.Close)
	dir := t.TempDir()
	c := testutil.StartController(t, filepath.Join(dir, "data"))
	startInstance(t, c, dir, "store-site", "private", "store-1")
	c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, dir, "m.yaml", []byte(fmt.Sprintf(`name: stored
interval: 1h
checkpoints: [store-site]
steps:
  - request: {url: %q}
    assert: [{source: status, comparison: equal, value: "200"}]
  - request: {url: %q}
    assert: [{source: status, comparison: equal, value: "200"}]
`, target.URL+"/up", target.URL+"/down"))))

	r := c.CLI(t, "", "run", "stored", "--wait", "-o", "json", "--timeout", "60s")
	res := &pb.RunResult{}
	if err := protojson.Unmarshal([]byte(r.Stdout), res); err != nil || r.Code == 0 {
		t.Fatalf("run: exit %d (%v), want a failed run's result\n%s%s", r.Code, err, r.Stdout, r.Stderr)
	}
	if res.Outcome != pb.Outcome_OUTCOME_FAILED || res.Sequence == 0 || res.StoredAt == nil || len(res.Steps) != 2 {
		t.Fatalf("result shown: outcome %v, sequence %d, stored_at %v, %d steps", res.Outcome, res.Sequence, res.StoredAt, len(res.Steps))
	}
	if got := len(res.Steps[0].BodyExcerpt); !res.Steps[0].Passed || got != 512 {
		t.Errorf("passing step keeps %d bytes of its body, want 512", got)
	}
	if got := res.Steps[1].BodyExcerpt; res.Steps[1].Passed || got != page {
		t.Errorf("failing step keeps %d bytes of its %d-byte body, want all of it", len(got), len(page))
	}
	out := c.MustCLI(t, "", "audit", "-o", "json", "--action", "fetch_run_secrets")
	if strings.Contains(out, res.RunId) {
		t.Errorf("a run that uses no secret has a fetch_run_secrets entry:\n%s", out)
	}
}
