package collect_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lookout-synthetics/lookout/controller/internal/server"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// A results:read token reads and streams; every change, the audit log and the token service
// refuse it; once revoked it is refused at once, and the audit log records creation and revocation
// without the secret.
func TestScopedTokenReadsButChangesNothingAndRevocationIsImmediate(t *testing.T) {
	c := startController(t, server0())
	secret := strings.TrimSpace(c.mustCLI(t, "", "token", "create", "--name", "grafana", "--scope", "results:read"))
	if !strings.HasPrefix(secret, "lkt_") || strings.ContainsAny(secret, " \n") {
		t.Fatalf("token create printed %q, want the token alone", secret)
	}
	tokFile := testutil.WriteFile(t, t.TempDir(), "grafana.token", []byte(secret+"\n"))
	ctx := t.Context()
	cc := c.dial(t, secret)
	admin, results, toks := pb.NewAdminServiceClient(cc), pb.NewResultServiceClient(cc), pb.NewTokenServiceClient(cc)

	if _, err := admin.ListMonitors(ctx, &pb.ListMonitorsRequest{}); err != nil {
		t.Fatalf("ListMonitors with results:read: %v", err)
	}
	if _, err := admin.ListCheckpoints(ctx, &pb.ListCheckpointsRequest{}); err != nil {
		t.Fatalf("ListCheckpoints with results:read: %v", err)
	}
	refused := map[string]error{}
	_, refused["ApplyMonitor"] = admin.ApplyMonitor(ctx, &pb.ApplyMonitorRequest{})
	_, refused["ListAuditEntries"] = admin.ListAuditEntries(ctx, &pb.ListAuditEntriesRequest{})
	_, refused["ListVaultItems"] = admin.ListVaultItems(ctx, &pb.ListVaultItemsRequest{})
	_, refused["CreateToken"] = toks.CreateToken(ctx, &pb.CreateTokenRequest{Name: "x", Scope: "admin"})
	_, refused["TriggerRun"] = admin.TriggerRun(ctx, &pb.TriggerRunRequest{Monitor: "m"})
	got := map[string]string{}
	for m, err := range refused {
		got[m] = code(err)
	}
	want := map[string]string{"ApplyMonitor": "PermissionDenied", "ListAuditEntries": "PermissionDenied", "ListVaultItems": "PermissionDenied",
		"CreateToken": "PermissionDenied", "TriggerRun": "PermissionDenied"}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("refusals (-got +want):\n%s", d)
	}
	if r := c.cli(t, tokFile, "audit"); r.err == nil || !strings.Contains(r.err.Error(), "scope results:read") {
		t.Errorf("audit with a results:read token: err %v, want a refusal naming the scope", r.err)
	}
	// The stream opens (the first Recv would wait for a result).
	if _, err := results.StreamResults(ctx, &pb.StreamResultsRequest{FromStart: true}); err != nil {
		t.Fatalf("StreamResults: %v", err)
	}

	c.mustCLI(t, "", "token", "revoke", "grafana")
	if _, err := admin.ListMonitors(ctx, &pb.ListMonitorsRequest{}); code(err) != "Unauthenticated" || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("ListMonitors after revoke: %v, want Unauthenticated naming the revocation", err)
	}

	list := c.mustCLI(t, "", "token", "list")
	if !strings.Contains(list, "grafana") || !strings.Contains(list, "revoked") || strings.Contains(list, secret) {
		t.Errorf("token list:\n%s", list)
	}
	audit := c.mustCLI(t, "", "audit", "--action", "token_create") + c.mustCLI(t, "", "audit", "--action", "token_revoke")
	if !strings.Contains(audit, "token_create") || !strings.Contains(audit, "token_revoke") || strings.Contains(audit, secret) {
		t.Errorf("audit log:\n%s", audit)
	}
}

// An admin-scoped API token may do what the bootstrap token does; bad requests name the field.
func TestAdminScopedTokenAndBadRequests(t *testing.T) {
	c := startController(t, server0())
	secret := strings.TrimSpace(c.mustCLI(t, "", "token", "create", "--name", "ops", "--scope", "admin"))
	cc := c.dial(t, secret)
	if _, err := pb.NewAdminServiceClient(cc).ListAuditEntries(t.Context(), &pb.ListAuditEntriesRequest{}); err != nil {
		t.Fatalf("ListAuditEntries with an admin token: %v", err)
	}
	toks := pb.NewTokenServiceClient(c.dial(t, c.adminToken))
	cases := []struct{ name, scope, code, field string }{
		{"ops", "admin", "AlreadyExists", "ops"},
		{"new", "results:write", "InvalidArgument", "scope"},
		{"bad name!", "admin", "InvalidArgument", "name"},
	}
	for _, tc := range cases {
		_, err := toks.CreateToken(t.Context(), &pb.CreateTokenRequest{Name: tc.name, Scope: tc.scope})
		if code(err) != tc.code || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("CreateToken(%q, %q): %v, want %s naming %q", tc.name, tc.scope, err, tc.code, tc.field)
		}
	}
	if _, err := toks.RevokeToken(t.Context(), &pb.RevokeTokenRequest{Name: "nope"}); code(err) != "NotFound" {
		t.Errorf("RevokeToken(nope): %v, want NotFound", err)
	}
	wrong := c.dial(t, "lkt_"+strings.Repeat("0", 64))
	if _, err := pb.NewAdminServiceClient(wrong).ListMonitors(t.Context(), &pb.ListMonitorsRequest{}); code(err) != "Unauthenticated" {
		t.Errorf("unknown token: %v, want Unauthenticated", err)
	}
	// The token's scope is checkable in-process, for the web console.
	if got, err := c.Auth.TokenScope(secret); err != nil || got.Scope != "admin" || got.Name != "token:ops" {
		t.Errorf("TokenScope = %+v, %v", got, err)
	}
}

// A stream opened with a token that is then revoked ends at its next result instead of delivering
// it; a stream with a valid token gets the result.
func TestRevokedTokenEndsItsOpenStream(t *testing.T) {
	c := startController(t, server.Options{RunGrace: 100 * time.Millisecond, RunAttempts: 1})
	revoked := strings.TrimSpace(c.mustCLI(t, "", "token", "create", "--name", "soon-gone", "--scope", "results:read"))
	kept := strings.TrimSpace(c.mustCLI(t, "", "token", "create", "--name", "kept", "--scope", "results:read"))
	c.mustCLI(t, "", "checkpoint", "token", "--name", "nowhere", "--kind", "private") // a checkpoint no agent serves
	src := "name: lonely\ninterval: 1h\ntimeout: 1s\ncheckpoints: [nowhere]\nsteps:\n  - request:\n      url: https://127.0.0.1:1/\n"
	c.mustCLI(t, "", "monitor", "apply", "--paused", "-f", testutil.WriteFile(t, t.TempDir(), "m.yaml", []byte(src)))

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	goneStream, err := pb.NewResultServiceClient(c.dial(t, revoked)).StreamResults(ctx, &pb.StreamResultsRequest{FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	keptStream, err := pb.NewResultServiceClient(c.dial(t, kept)).StreamResults(ctx, &pb.StreamResultsRequest{FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	c.mustCLI(t, "", "token", "revoke", "soon-gone")
	// Ends as "checkpoint unavailable" about a second later. The streams replay from the start, so
	// the result reaches them whether they subscribed before it was stored or after.
	c.mustCLI(t, "", "run", "lonely")

	res, err := keptStream.Recv()
	if err != nil || res.MonitorName != "lonely" {
		t.Fatalf("valid token's stream: %v, %v", res, err)
	}
	if res, err := goneStream.Recv(); code(err) != "Unauthenticated" {
		t.Fatalf("revoked token's stream: got %v, %v; want Unauthenticated", res, err)
	}
}
