package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// TestRunOnACheckpointWithNoLiveInstance (issue 19): `run --wait` on a checkpoint no agent serves
// answers at once with the reason, instead of waiting out the run's deadline or its own timeout.
func TestRunOnACheckpointWithNoLiveInstance(t *testing.T) {
	dir := t.TempDir()
	c := testutil.StartController(t, filepath.Join(dir, "data"))
	c.MustCLI(t, "", "checkpoint", "token", "--name", "ghost-site", "--kind", "private")
	c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, dir, "m.yaml", []byte(
		"name: haunted\ninterval: 1h\ntimeout: 5m\ncheckpoints: [ghost-site]\nsteps:\n  - request:\n      url: \"https://127.0.0.1:9/\"\n")))
	r := c.CLI(t, "", "run", "haunted", "--wait", "--timeout", "2m")
	out := r.Stdout + r.Stderr
	if r.Code == 0 || !strings.Contains(out, `no live instance of checkpoint "ghost-site"`) || strings.Contains(out, "deadline exceeded") {
		t.Fatalf("run --wait on a checkpoint without agents: exit %d\n%s\nwant a failure naming the checkpoint with no live instance", r.Code, out)
	}
}
