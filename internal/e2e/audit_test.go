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

// TestAuditCommandReadsTheLog: the admin's changes, an agent's enrollment and the release of a
// credential set to a run are all in `audit`, filtered by action, limited to the newest, readable as
// a table and as JSON; the credential's password is in none of it; a bad --since is refused.
func TestAuditCommandReadsTheLog(t *testing.T) {
	const password = "audit-e2e-hunter2"
	dir := t.TempDir()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pw, ok := r.BasicAuth(); !ok || pw != password {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	t.Cleanup(target.Close)
	c := testutil.StartController(t, filepath.Join(dir, "data"))
	agent := startInstance(t, c, dir, "audit-site", "private", "audit-1")
	c.MustCLI(t, password+"\n", "vault", "add-credentials", "--name", "api-user", "--username", "lookout", "--password-stdin")
	c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, dir, "m.yaml", []byte(fmt.Sprintf(`name: audited
interval: 1h
checkpoints: [audit-site]
steps:
  - request:
      url: %q
      auth: {type: basic, credentials: api-user}
    assert:
      - {source: status, comparison: equal, value: "200"}
`, target.URL))))
	r := c.CLI(t, "", "run", "audited", "--wait", "-o", "json", "--timeout", "60s")
	res := &pb.RunResult{}
	if err := protojson.Unmarshal([]byte(r.Stdout), res); err != nil || r.Code != 0 {
		t.Fatalf("run: exit %d (%v)\n%s%s", r.Code, err, r.Stdout, r.Stderr)
	}

	list := func(args ...string) *pb.ListAuditEntriesResponse {
		t.Helper()
		out := c.MustCLI(t, "", append([]string{"audit", "-o", "json"}, args...)...)
		if strings.Contains(out, password) {
			t.Fatalf("audit %v prints the password", args)
		}
		resp := &pb.ListAuditEntriesResponse{}
		if err := protojson.Unmarshal([]byte(out), resp); err != nil {
			t.Fatalf("audit %v: %v\n%s", args, err, out)
		}
		return resp
	}
	all := list("--since", "1h")
	seen := map[string]*pb.AuditEntry{}
	for i, e := range all.Entries {
		seen[e.Action+" "+e.Target] = e
		if i > 0 && e.Sequence <= all.Entries[i-1].Sequence {
			t.Errorf("entries out of order: %v after %v", e, all.Entries[i-1])
		}
	}
	for _, want := range []string{"enrollment_token_create audit-site", "enroll audit-site", "vault_add_credentials api-user",
		"monitor_apply audited", "fetch_run_secrets " + res.RunId} {
		if seen[want] == nil {
			t.Errorf("the audit log has no %q entry: %v", want, all.Entries)
		}
	}
	if e := seen["fetch_run_secrets "+res.RunId]; e != nil && (!strings.Contains(e.Detail, "api-user@v1") || e.Actor != agent.id || res.AgentId != agent.id) {
		t.Errorf("the release entry is %v for a run of agent %s; want actor %s and the item api-user@v1 named", e, res.AgentId, agent.id)
	}

	fetches := list("--action", "fetch_run_secrets")
	for _, e := range fetches.Entries {
		if e.Action != "fetch_run_secrets" {
			t.Errorf("--action fetch_run_secrets listed %v", e)
		}
	}
	if len(fetches.Entries) == 0 {
		t.Error("--action fetch_run_secrets listed nothing")
	}
	last := c.CLI(t, "", "audit", "--limit", "1")
	if last.Code != 0 || !strings.Contains(last.Stdout, "TIME") || strings.Count(strings.TrimSpace(last.Stdout), "\n") != 1 ||
		!strings.Contains(last.Stderr, "older entries may match too") {
		t.Errorf("audit --limit 1: exit %d, want a header, one row and a note that more match\n%s%s", last.Code, last.Stdout, last.Stderr)
	}
	if bad := c.CLI(t, "", "audit", "--since", "yesterday"); bad.Code == 0 || !strings.Contains(bad.Stderr, "neither a duration") {
		t.Errorf("audit --since yesterday: exit %d\n%s", bad.Code, bad.Stderr)
	}
}
