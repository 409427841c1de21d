package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// TestCheckpointDeleteAndRevokedInstances (issue 19): `checkpoint delete` is refused while a monitor
// names the checkpoint (naming it) or an instance is not revoked; revoked instances can be
// removed one by one or all at once; a deleted checkpoint is gone from `checkpoint list`.
func TestCheckpointDeleteAndRevokedInstances(t *testing.T) {
	dir := t.TempDir()
	c := testutil.StartController(t, filepath.Join(dir, "data"))
	a := startInstance(t, c, dir, "old-site", "private", "old-site-1")
	c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, dir, "m.yaml", []byte(
		"name: still-using\ninterval: 1h\ncheckpoints: [old-site]\nsteps:\n  - request:\n      url: \"https://127.0.0.1:9/\"\n")))

	refused := func(want string, args ...string) {
		t.Helper()
		r := c.CLI(t, "", args...)
		if out := r.Stdout + r.Stderr; r.Code == 0 || !strings.Contains(out, want) {
			t.Fatalf("%s: exit %d\n%s\nwant a refusal saying %q", strings.Join(args, " "), r.Code, out, want)
		}
	}
	refused("named by monitor(s) still-using", "checkpoint", "delete", "old-site")
	c.MustCLI(t, "", "monitor", "delete", "still-using")
	refused("not revoked ("+a.id+")", "checkpoint", "delete", "old-site")
	refused("only revoked instances can be removed", "checkpoint", "remove-instances", "old-site", "--instance", a.id)

	c.MustCLI(t, "", "checkpoint", "revoke", "old-site")
	if out := c.MustCLI(t, "", "checkpoint", "remove-instances", "old-site", "--instance", a.id); !strings.Contains(out, "removed 1 revoked instance(s) of checkpoint old-site: "+a.id) {
		t.Fatalf("remove-instances: %s", out)
	}
	if out := c.MustCLI(t, "", "checkpoint", "list"); strings.Contains(out, a.id) || strings.Contains(out, "old-site-1") {
		t.Fatalf("checkpoint list still shows the removed instance:\n%s", out)
	}
	if out := c.MustCLI(t, "", "checkpoint", "delete", "old-site"); !strings.Contains(out, "deleted checkpoint old-site") {
		t.Fatalf("checkpoint delete: %s", out)
	}
	if out := c.MustCLI(t, "", "checkpoint", "list"); strings.Contains(out, "old-site") {
		t.Fatalf("checkpoint list still shows the deleted checkpoint:\n%s", out)
	}
}

// TestTokenWithUses (issue 19): `checkpoint token --uses N` makes one token that enrols N instances;
// `checkpoint list` shows the uses left, and a count outside 1–1000 is refused naming the field.
func TestTokenWithUses(t *testing.T) {
	dir := t.TempDir()
	c := testutil.StartController(t, filepath.Join(dir, "data"))
	c.MustCLI(t, "", "checkpoint", "token", "--name", "fleet-site", "--kind", "private", "--uses", "3")
	if out := c.MustCLI(t, "", "checkpoint", "list", "-o", "json"); !strings.Contains(strings.Join(strings.Fields(out), ""), `"enrollmentsLeft":3`) {
		t.Fatalf("checkpoint list -o json does not show 3 enrollments left:\n%s", out)
	}
	if r := c.CLI(t, "", "checkpoint", "token", "--name", "fleet-site", "--kind", "private", "--uses", "1001"); r.Code == 0 || !strings.Contains(r.Stderr, "uses: must be between 1 and 1000") {
		t.Fatalf("--uses 1001: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}
