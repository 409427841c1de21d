package api_test

import (
	"bytes"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/sealing"
)

// TestFetchSendsOnlyWhatTheAgentLacks: an agent that says it holds a run's item at the run's
// version gets an empty answer (the run is still claimed); a claim naming another version or an
// item the run does not use is ignored and the item is sent. Heartbeats tell the agent to drop a
// version that was replaced and an item no monitor on its checkpoint uses any more.
func TestFetchSendsOnlyWhatTheAgentLacks(t *testing.T) {
	t.Parallel()
	c := startController(t)
	c.addCredentials(t)
	ag := c.enroll(t, "site-a", "public", "a1")
	other := c.enroll(t, "site-a", "public", "a2")
	c.applyMonitor(t, "orders", "site-a")

	fetch := func(have ...*pb.SecretRef) (*pb.Run, []byte) {
		t.Helper()
		run := c.trigger(t, "orders", "site-a")
		if len(run.Secrets) != 1 {
			t.Fatalf("run names %d secrets, want the credential set", len(run.Secrets))
		}
		resp, err := ag.client.FetchRunSecrets(t.Context(), &pb.FetchRunSecretsRequest{RunId: run.RunId, Attempt: run.Attempt, Have: have})
		if err != nil {
			t.Fatalf("fetch: %v", err)
		}
		// The claim holds, whether or not material was sent: the checkpoint's other instance is
		// refused the run.
		_, err = other.client.FetchRunSecrets(t.Context(), &pb.FetchRunSecretsRequest{RunId: run.RunId, Attempt: run.Attempt})
		if status.Code(err) != codes.PermissionDenied {
			t.Fatalf("the other instance's claim after the fetch: %v, want PermissionDenied", err)
		}
		if r := c.run(t, run.RunId); r.State != pb.RunState_RUN_STATE_RUNNING || r.AgentId != ag.id() {
			t.Fatalf("after the fetch the run is %v claimed by %q, want running and claimed", r.State, r.AgentId)
		}
		if len(resp.Sealed) == 0 {
			return run, nil
		}
		plain, err := sealing.Open(ag.sealing, sealing.Info(ag.id(), run.RunId, run.Attempt), resp.Sealed)
		if err != nil {
			t.Fatal(err)
		}
		return run, plain
	}

	first, plain := fetch()
	if !bytes.Contains(plain, []byte(apiPassword)) {
		t.Fatal("the first run did not carry the credential set")
	}
	held := &pb.SecretRef{ItemId: first.Secrets[0].ItemId, Version: first.Secrets[0].Version}
	if _, plain := fetch(held); plain != nil {
		t.Error("the agent holds the item at the run's version, yet it was sent again")
	}
	for name, have := range map[string]*pb.SecretRef{
		"another version":   {ItemId: held.ItemId, Version: held.Version + 1},
		"an unrelated item": {ItemId: "vi_unrelated", Version: held.Version},
	} {
		if _, plain := fetch(have); !bytes.Contains(plain, []byte(apiPassword)) {
			t.Errorf("a claim to hold %s was trusted: the item was not sent", name)
		}
	}

	heartbeat := func(cached ...*pb.SecretRef) []*pb.SecretRef {
		t.Helper()
		resp, err := ag.client.Heartbeat(t.Context(), &pb.HeartbeatRequest{Version: "test", Cached: cached})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Drop
	}
	if drop := heartbeat(held); len(drop) != 0 {
		t.Errorf("heartbeat told the agent to drop a current item in use: %v", drop)
	}
	if _, err := c.admin.ReplaceCredentials(t.Context(), &pb.AddCredentialsRequest{Name: "api-user", Username: "monitor", Password: "pw-two"}); err != nil {
		t.Fatal(err)
	}
	v2 := &pb.SecretRef{ItemId: held.ItemId, Version: held.Version + 1}
	if drop := heartbeat(held, v2); len(drop) != 1 || drop[0].ItemId != held.ItemId || drop[0].Version != held.Version {
		t.Errorf("after a replace, heartbeat drop = %v; want version %d only", drop, held.Version)
	}
	if _, err := c.admin.DeleteMonitor(t.Context(), &pb.DeleteMonitorRequest{Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	if drop := heartbeat(v2); len(drop) != 1 || drop[0].Version != v2.Version {
		t.Errorf("with no monitor using the item, heartbeat drop = %v; want it dropped", drop)
	}

	log, err := c.stopAndOpenStore(t).AuditLog()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(log, func(e store.AuditEntry) bool {
		return e.Actor == ag.id() && e.Action == "fetch_run_secrets" && bytes.Contains([]byte(e.Detail), []byte("items=none reused=api-user@v"))
	}) {
		t.Error("the audit log does not record the run that reused the agent's copy")
	}
}
