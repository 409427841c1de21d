package console_test

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lookout-synthetics/lookout/internal/testutil"
)

var devConsoleLine = regexp.MustCompile(`Web console: (http://127\.0\.0\.1:\d+) \(sign in with the token in (\S+)\)`)

// TestDevServesTheConsole: `lookout-controller dev` (make demo) serves the console on loopback and
// prints where, with the file holding the token to sign in with.
func TestDevServesTheConsole(t *testing.T) {
	ctrl, agent := testutil.Binaries(t)
	p := testutil.Start(t, "dev", ctrl, "dev", "--duration", "60s", "--agent-bin", agent,
		"--examples", filepath.Join("..", "..", "..", "deploy", "examples"))
	defer p.Stop()
	line := p.WaitFor(t, "the console's address", 60*time.Second, func(out string) string { return devConsoleLine.FindString(out) })
	m := devConsoleLine.FindStringSubmatch(line)
	tok, err := os.ReadFile(m[2])
	if err != nil {
		t.Fatal(err)
	}
	cl := client(t)
	get(t, cl, m[1]+"/healthz", http.StatusOK)
	if resp := signIn(t, cl, m[1], strings.TrimSpace(string(tok))); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("signing in to dev's console: status %d", resp.StatusCode)
	}
	testutil.Eventually(t, "dev's overview to list the example monitors", 60*time.Second, func() bool {
		return strings.Contains(get(t, cl, m[1]+"/", http.StatusOK), `href="/monitors/partner-orders"`)
	})
}
