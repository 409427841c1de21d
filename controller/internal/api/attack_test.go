package api_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/grpc/codes"

	"github.com/lookout-synthetics/lookout/internal/natsbus"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// TestAttackClientWithAPrivateIdentity replays the attack review of issue 18 against a whole
// controller (gRPC over TLS, its embedded NATS, bbolt): a hand-made client holding a private
// agent's real identity tries to read another checkpoint's runs on NATS, to claim one of them, and
// to report a result for it. Every attempt fails the same way a made-up run id would, nothing is
// delivered, released or stored, and the rightful agent still gets and runs its run.
func TestAttackClientWithAPrivateIdentity(t *testing.T) {
	t.Parallel()
	c := startController(t)
	c.addCredentials(t)
	owner := c.enroll(t, "site-a", "public", "a1")
	attacker := c.enroll(t, "site-p", "private", "p1")
	c.applyMonitor(t, "orders", "site-a", "site-p")
	ownerBus := owner.subscribe(t)

	// NATS: every subject outside its own is refused, and no run of site-a reaches it.
	errs := make(chan error, 16)
	nc, err := attacker.dialNATS(nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	stolen := make(chan *nats.Msg, 16)
	for _, subject := range []string{owner.resp.RunSubject, "lookout.run.*", ">", natsbus.InboxPrefix(owner.id()) + ".>"} {
		if _, err := nc.ChanSubscribe(subject, stolen); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errs:
			if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), subject) {
				t.Fatalf("subscribing to %q: %v, want a permission violation", subject, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("subscribing to %q: no permission violation within 10s", subject)
		}
	}
	run := c.trigger(t, "orders", "site-a")
	select {
	case <-ownerBus.runs:
	case <-time.After(10 * time.Second):
		t.Fatal("the owner did not get its run")
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-stolen:
		t.Fatalf("the private identity received %q on NATS", m.Subject)
	default:
	}

	// gRPC: claiming and reporting another checkpoint's run look like asking about no run at all.
	resp, err := attacker.client.FetchRunSecrets(t.Context(), &pb.FetchRunSecretsRequest{RunId: run.RunId, Attempt: run.Attempt})
	wantCode(t, "claiming site-a's run", err, codes.NotFound, run.RunId+": not found")
	if resp.GetSealed() != nil {
		t.Fatal("secrets were sealed to the private identity")
	}
	forged := result(run, owner.id())
	forged.Result.CheckpointId, forged.Result.CheckpointName = owner.resp.CheckpointId, "site-a"
	_, err = attacker.client.ReportResult(t.Context(), forged)
	wantCode(t, "reporting for site-a, naming its agent and checkpoint", err, codes.NotFound, run.RunId+": not found")
	if r := c.run(t, run.RunId); r.State != pb.RunState_RUN_STATE_DISPATCHED || r.AgentId != "" || r.Result != nil {
		t.Fatalf("after the attack the run is %v, claimed by %q, result %v; want dispatched, unclaimed, none", r.State, r.AgentId, r.Result)
	}

	// The rightful agent is unaffected.
	if _, err := owner.client.FetchRunSecrets(t.Context(), &pb.FetchRunSecretsRequest{RunId: run.RunId, Attempt: run.Attempt}); err != nil {
		t.Fatalf("the owner claiming its run: %v", err)
	}
	if _, err := owner.client.ReportResult(t.Context(), result(run, owner.id())); err != nil {
		t.Fatalf("the owner reporting: %v", err)
	}
}
