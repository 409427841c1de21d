package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// TestDemo runs what the README's first command runs (`lookout-controller dev`, which `make demo`
// starts) for a few seconds and checks that every example monitor passes on every checkpoint it
// names, and that the command stops by itself with exit code 0.
func TestDemo(t *testing.T) {
	ctrl, agent := testutil.Binaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ctrl, "dev", "--duration", "8s", "--agent-bin", agent,
		"--examples", filepath.Join("..", "..", "deploy", "examples"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("lookout-controller dev: %v\n%s", err, out)
	}
	for _, want := range []string{
		`PASS\s+partner-orders @ public-1`,
		`PASS\s+partner-orders @ private-1`,
		`PASS\s+platform-health @ public-1`,
		`controller metrics at http://127\.0\.0\.1:\d+/metrics`,
	} {
		if !regexp.MustCompile(want).Match(out) {
			t.Errorf("demo output has no line matching %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{`FAIL`, `ERROR`, `platform-health @ private-1`} {
		if regexp.MustCompile(bad).Match(out) {
			t.Errorf("demo output matches %q:\n%s", bad, out)
		}
	}
}
