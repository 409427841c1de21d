package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// TestRetentionDeletesOldRunsResultsAndAudit: a controller with a short retention deletes a
// finished run and its result once they were stored longer ago than the retention, and audit
// entries older than theirs, says so in its log and metrics, and goes on storing new results.
// Retention counts from when a result is stored, so `run --wait` always finds its run.
func TestRetentionDeletesOldRunsResultsAndAudit(t *testing.T) {
	dir := t.TempDir()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	t.Cleanup(target.Close)
	metrics := freeAddr(t)
	c := testutil.StartController(t, filepath.Join(dir, "data"), "--metrics-listen", metrics, "--retention", "4s", "--audit-retention", "4s")
	startInstance(t, c, dir, "keep-site", "public", "keep-1")
	c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, dir, "m.yaml", []byte(fmt.Sprintf(`name: kept-briefly
interval: 1h
checkpoints: [keep-site]
steps:
  - request: {url: %q}
`, target.URL))))
	run := func() string {
		t.Helper()
		r := c.CLI(t, "", "run", "kept-briefly", "--wait", "-o", "json", "--timeout", "60s")
		res := &pb.RunResult{}
		if err := protojson.Unmarshal([]byte(r.Stdout), res); err != nil || r.Code != 0 {
			t.Fatalf("run: exit %d (%v)\n%s%s", r.Code, err, r.Stdout, r.Stderr)
		}
		return res.RunId
	}
	stored := func() []string {
		var ids []string
		for _, res := range storedResults(t, c) {
			ids = append(ids, res.RunId)
		}
		return ids
	}
	first := run() // its result came back from the stored run: it was stored

	// Poll for the run's own result to go, not only for the counters: the scheduled run the apply
	// started is older and can move them a pass before this one is due.
	testutil.EventuallyValue(t, "everything past a 4 s retention to be pruned", 60*time.Second, func() (bool, error) {
		if metricWithLabels(t, metrics, `lookout_store_pruned_total{kind="results"}`) < 1 ||
			metricWithLabels(t, metrics, `lookout_store_pruned_total{kind="runs"}`) < 1 ||
			metricWithLabels(t, metrics, `lookout_store_pruned_total{kind="audit"}`) < 1 ||
			slices.Contains(stored(), first) {
			return false, fmt.Errorf("not everything was pruned: run %s stored: %v\n%s", first, slices.Contains(stored(), first), c.Output())
		}
		return true, nil
	})
	if !strings.Contains(c.Output(), "deleted records past retention") {
		t.Errorf("the controller did not log what it deleted\n%s", c.Output())
	}

	run() // its result comes back from the stored run: storing goes on after pruning
}

// TestRetentionFlagsRefuseNonsense: a negative or sub-second retention is refused at start, naming
// the flag.
func TestRetentionFlagsRefuseNonsense(t *testing.T) {
	bin, _ := testutil.Binaries(t)
	for _, args := range [][]string{{"--retention", "-1h"}, {"--audit-retention", "10ms"}} {
		// Bounded: were the flag accepted, serve would start and run until killed.
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"serve", "--data-dir", t.TempDir(), "--grpc-listen", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), args[0]+" must be 0 (keep forever) or at least 1s") {
			t.Errorf("serve %v: %v\n%s", args, err, out)
		}
	}
}
