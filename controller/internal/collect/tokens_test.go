package collect_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

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
	if _, err := results.StreamResults(ctx, &pb.StreamResultsRequest{}); err != nil {
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
