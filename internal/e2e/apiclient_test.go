package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// The Go client of docs/api.md, built as a user would build it, resumes from its cursor with a
// results:read token: it prints the results stored after --after, then new ones live, and never
// the ones before.
func TestDocsStreamClientResumesFromItsCursor(t *testing.T) {
	s := startCollectSystem(t)
	s.apply(t, "orders", "/ok", "paris")
	seen, missed := s.run(t, "orders", "paris"), s.run(t, "orders", "paris")
	secret := strings.TrimSpace(s.c.MustCLI(t, "", "token", "create", "--name", "program", "--scope", "results:read"))
	tok := testutil.WriteFile(t, t.TempDir(), "program.token", []byte(secret))
	bin := filepath.Join(t.TempDir(), "streamclient")
	build := exec.Command("go", "build", "-o", bin, "./docs/examples/streamclient")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the docs example: %v\n%s", err, out)
	}

	p := testutil.Start(t, "streamclient", bin, "--addr", s.c.Addr, "--ca-file", s.c.CAFile, "--token-file", tok,
		"--after", fmt.Sprint(seen.Sequence))
	line := func(seq uint64) string { return fmt.Sprintf("%d \"orders\" \"paris\" OUTCOME_PASSED\n", seq) }
	p.WaitFor(t, "the result stored after the cursor", 30*time.Second, testutil.Contains(line(missed.Sequence)))
	live := s.run(t, "orders", "paris")
	p.WaitFor(t, "a result stored while streaming", 30*time.Second, testutil.Contains(line(live.Sequence)))
	if out := p.Output(); seen.Sequence == 0 || strings.Contains(out, line(seen.Sequence)) {
		t.Fatalf("the client printed the result at its cursor (sequence %d), or it has none:\n%s", seen.Sequence, out)
	}
}
