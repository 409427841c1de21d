package api_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Changes made over gRPC are audited under the token that made them: the bootstrap admin token is
// "admin", an API token is "token:NAME", in the admin, fleet and alert services alike.
func TestAuditNamesTheCallingToken(t *testing.T) {
	c := startController(t)
	ctx := t.Context()
	created, err := pb.NewTokenServiceClient(c.dial(t, c.tok)).CreateToken(ctx, &pb.CreateTokenRequest{Name: "ops", Scope: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	ops := c.dial(t, created.Secret)
	opsAdmin, opsFleet, opsAlerts := pb.NewAdminServiceClient(ops), pb.NewFleetServiceClient(ops), pb.NewAlertServiceClient(ops)

	if _, err := c.admin.AddSecret(ctx, &pb.AddSecretRequest{Name: "by-admin", Value: "v"}); err != nil {
		t.Fatal(err)
	}
	if _, err := opsAdmin.AddSecret(ctx, &pb.AddSecretRequest{Name: "by-ops", Value: "v"}); err != nil {
		t.Fatal(err)
	}
	if _, err := opsAdmin.ReplaceSecret(ctx, &pb.AddSecretRequest{Name: "by-admin", Value: "w"}); err != nil {
		t.Fatal(err)
	}
	c.token(t, "site-1", "public")
	if _, err := opsFleet.DeleteCheckpoint(ctx, &pb.DeleteCheckpointRequest{Name: "site-1"}); err != nil {
		t.Fatal(err)
	}
	hook := "name: hook\ntype: webhook\nurl: https://hooks.example.net/lookout\nsigning_secret: by-ops\n"
	if _, err := opsAlerts.ApplyChannel(ctx, &pb.ApplyChannelRequest{Source: []byte(hook)}); err != nil {
		t.Fatal(err)
	}

	resp, err := c.admin.ListAuditEntries(ctx, &pb.ListAuditEntriesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range resp.Entries {
		got = append(got, e.Actor+" "+e.Action+" "+e.Target)
	}
	want := []string{
		"admin token_create ops",
		"admin vault_add_secret by-admin",
		"token:ops vault_add_secret by-ops",
		"token:ops vault_replace_secret by-admin",
		"admin enrollment_token_create site-1",
		"token:ops checkpoint_delete site-1",
		"token:ops channel_apply hook",
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("audit log (-got +want):\n%s", diff)
	}
}
