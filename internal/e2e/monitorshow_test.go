package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// TestMonitorShowRoundTrips: `monitor show` prints the monitor in the format `monitor apply -f`
// reads, and applying that output again changes nothing.
func TestMonitorShowRoundTrips(t *testing.T) {
	dir := t.TempDir()
	c := testutil.StartController(t, filepath.Join(dir, "data"))
	c.MustCLI(t, "", "checkpoint", "token", "--name", "show-site", "--kind", "private")
	c.MustCLI(t, "", "vault", "add-credentials", "--name", "api-login", "--username", "u", "--password-stdin")
	src := `name: round-trip
interval: 5m
timeout: 20s
checkpoints: [show-site]
variables: {base: "http://127.0.0.1:9"}
steps:
  - name: log in
    request:
      method: POST
      url: "{{base}}/login"
      headers: {Accept: application/json}
      form:
        - {name: user, value: "{{@RandomGuid}}"}
      auth: {type: digest, credentials: api-login}
      tls: {min_version: "1.2", server_name: api.example}
    retry: {max_attempts: 3, wait: 2s}
    extract:
      - {name: token, from: json, path: $.token}
    assert:
      - {source: status, comparison: equal, value: "200"}
      - {source: json, path: "items[0].id", comparison: exists}
  - name: pause
    wait: 1500ms
  - name: call
    timeout: 5s
    request:
      url: "{{base}}/items"
      auth: {type: bearer, token: "{{token}}"}
    assert:
      - {source: body, comparison: contains, value: ok}
`
	if out := c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, dir, "m.yaml", []byte(src))); !strings.Contains(out, "created") {
		t.Fatalf("first apply: %s", out)
	}
	shown := c.MustCLI(t, "", "monitor", "show", "round-trip")
	for _, w := range []string{"# monitor ", "version 1", "name: round-trip", "wait: 1.5s", "type: digest", "max_attempts: 3"} {
		if !strings.Contains(shown, w) {
			t.Errorf("monitor show does not hold %q:\n%s", w, shown)
		}
	}
	if out := c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, dir, "shown.yaml", []byte(shown))); !strings.Contains(out, "unchanged") {
		t.Fatalf("applying what monitor show printed changed the monitor: %s\n%s", out, shown)
	}
	if again := c.MustCLI(t, "", "monitor", "show", "round-trip"); again != shown {
		t.Errorf("monitor show differs after re-applying its output:\n%s\nthen\n%s", shown, again)
	}

	// Pausing is the operator's state, not the file's: applying the file again keeps it.
	if out := c.MustCLI(t, "", "monitor", "pause", "round-trip"); !strings.Contains(out, "paused") {
		t.Errorf("monitor pause: %s", out)
	}
	if out := c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, dir, "again.yaml", []byte(src))); !strings.Contains(out, "unchanged") {
		t.Errorf("applying the same file to a paused monitor: %s", out)
	}
	if list := c.MustCLI(t, "", "monitor", "list"); !strings.Contains(list, "paused") {
		t.Errorf("monitor list does not show the monitor paused after re-applying its file:\n%s", list)
	}
	if out := c.MustCLI(t, "", "monitor", "show", "round-trip"); !strings.Contains(out, "version 1") || !strings.Contains(out, ", paused") {
		t.Errorf("monitor show of a paused monitor:\n%s", out)
	}
	c.MustCLI(t, "", "monitor", "resume", "round-trip")
	if list := c.MustCLI(t, "", "monitor", "list"); strings.Contains(list, "paused") || !strings.Contains(list, "active") {
		t.Errorf("monitor list after resume:\n%s", list)
	}
	if r := c.CLI(t, "", "monitor", "pause", "no-such"); r.Code == 0 || !strings.Contains(r.Stderr, `"no-such"`) || !strings.Contains(r.Stderr, "not found") {
		t.Errorf("pausing a monitor that does not exist: exit %d, stderr %q", r.Code, r.Stderr)
	}
}
