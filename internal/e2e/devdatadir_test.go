package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// TestDevCreatesDataDir runs `lookout-controller dev --data-dir` with a directory that does not
// exist yet, two levels deep: dev creates it, keeps its files there and leaves them on exit.
func TestDevCreatesDataDir(t *testing.T) {
	ctrl, agent := testutil.Binaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "new", "data")
	cmd := exec.CommandContext(ctx, ctrl, "dev", "--duration", "1s", "--agent-bin", agent, "--data-dir", dir,
		"--examples", filepath.Join("..", "..", "deploy", "examples"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("lookout-controller dev --data-dir %s: %v\n%s", dir, err, out)
	}
	if !strings.Contains(string(out), "data in "+dir) {
		t.Errorf("dev output does not name the data dir %s:\n%s", dir, out)
	}
	for _, name := range []string{"controller.log", "platform.p12", "agent-private-1.log"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("after dev: %v", err)
		}
	}
}
