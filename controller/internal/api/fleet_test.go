package api_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/sealing"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// TestEnrollmentTokens: a token enrols exactly one agent even when redeemed concurrently over real
// gRPC; a used or unknown token is refused in words the operator can act on; a malformed request
// does not spend the token.
func TestEnrollmentTokens(t *testing.T) {
	t.Parallel()
	c := startController(t)
	tok := c.token(t, "site-a", "private")
	anon := c.anonymous(t)

	bad := newEnrollRequest(t, tok, "broken")
	bad.req.CsrDer = []byte("not a csr")
	_, err := anon.Enroll(t.Context(), bad.req)
	wantCode(t, "enrolling with a malformed CSR", err, codes.InvalidArgument, "csr_der")

	const n = 8
	reqs := make([]enrollRequest, n)
	for i := range reqs {
		reqs[i] = newEnrollRequest(t, tok, fmt.Sprintf("racer-%d", i))
	}
	errs := make([]error, n)
	resps := make([]*pb.EnrollResponse, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			resps[i], errs[i] = anon.Enroll(t.Context(), reqs[i].req)
		})
	}
	close(start)
	wg.Wait()
	winners := 0
	for i, err := range errs {
		if err == nil {
			winners++
			if resps[i].CheckpointName != "site-a" || resps[i].Kind != pb.CheckpointKind_CHECKPOINT_KIND_PRIVATE {
				t.Errorf("winner enrolled as %s/%v, want site-a/private", resps[i].CheckpointName, resps[i].Kind)
			}
			continue
		}
		wantCode(t, "losing redemption", err, codes.PermissionDenied, "already used")
	}
	if winners != 1 {
		t.Fatalf("%d of %d concurrent redemptions of one token succeeded, want exactly 1", winners, n)
	}

	_, err = anon.Enroll(t.Context(), newEnrollRequest(t, tok, "late").req)
	wantCode(t, "redeeming a used token", err, codes.PermissionDenied, "create a new one")
	_, err = anon.Enroll(t.Context(), newEnrollRequest(t, "lkt_"+strings.Repeat("x", 43), "guess").req)
	wantCode(t, "redeeming an unknown token", err, codes.PermissionDenied, "not valid")

	list, err := c.admin.ListCheckpoints(t.Context(), &pb.ListCheckpointsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Checkpoints) != 1 || len(list.Checkpoints[0].Agents) != 1 {
		t.Fatalf("checkpoint list after the race: %v, want site-a with one agent", list.Checkpoints)
	}
}

// TestOwnership: only the instance a run was dispatched to (and claimed by) gets its secrets or may
// report its result. Another checkpoint's agent and a second instance of the same checkpoint are
// refused with PermissionDenied, each refusal is audited, nothing is released or stored, and the
// identity fields in a result body are replaced by the certificate's.
func TestOwnership(t *testing.T) {
	t.Parallel()
	c := startController(t)
	c.addCredentials(t)
	owner := c.enroll(t, "site-a", "public", "a1")
	sibling := c.enroll(t, "site-a", "public", "a2")
	stranger := c.enroll(t, "site-b", "private", "b1")
	c.applyMonitor(t, "orders", "site-a", "site-b")
	run := c.trigger(t, "orders", "site-a")

	fetch := func(a *agent) (*pb.FetchRunSecretsResponse, error) {
		return a.client.FetchRunSecrets(t.Context(), &pb.FetchRunSecretsRequest{RunId: run.RunId, Attempt: run.Attempt})
	}
	resp, err := fetch(stranger)
	wantCode(t, "another checkpoint's agent fetching the run's secrets", err, codes.NotFound, run.RunId+": not found")
	_, missing := stranger.client.FetchRunSecrets(t.Context(), &pb.FetchRunSecretsRequest{RunId: "run_000000000000000000000000", Attempt: run.Attempt})
	if strings.ReplaceAll(status.Convert(err).Message(), run.RunId, "ID") != strings.ReplaceAll(status.Convert(missing).Message(), "run_000000000000000000000000", "ID") ||
		status.Code(err) != status.Code(missing) {
		t.Errorf("another checkpoint's run answers %v, a missing run %v: a caller can tell whether a run id exists", err, missing)
	}
	if resp.GetSealed() != nil {
		t.Error("sealed secrets were returned to another checkpoint's agent")
	}
	_, err = stranger.client.ReportResult(t.Context(), result(run, owner.id()))
	wantCode(t, "another checkpoint's agent reporting the run (naming the owner)", err, codes.NotFound, run.RunId+": not found")
	_, err = owner.client.FetchRunSecrets(t.Context(), &pb.FetchRunSecretsRequest{RunId: run.RunId, Attempt: run.Attempt + 1})
	wantCode(t, "the owner asking for another attempt", err, codes.PermissionDenied, "attempt")
	if r := c.run(t, run.RunId); r.State != pb.RunState_RUN_STATE_DISPATCHED || r.AgentId != "" {
		t.Fatalf("after the refusals the run is %v claimed by %q, want dispatched and unclaimed", r.State, r.AgentId)
	}

	// Positive control: the owner claims it and can open what it gets.
	resp, err = fetch(owner)
	if err != nil {
		t.Fatalf("the checkpoint's own agent fetching secrets: %v", err)
	}
	plain, err := sealing.Open(owner.sealing, sealing.Info(owner.id(), run.RunId, run.Attempt), resp.Sealed)
	if err != nil || !bytes.Contains(plain, []byte(apiPassword)) {
		t.Fatalf("the owner could not open its secrets (%v) or they lack the credential", err)
	}
	if _, err := sealing.Open(sibling.sealing, sealing.Info(sibling.id(), run.RunId, run.Attempt), resp.Sealed); err == nil {
		t.Error("another instance's key opened secrets sealed to the owner")
	}

	resp, err = fetch(sibling)
	wantCode(t, "a second instance fetching a claimed run", err, codes.PermissionDenied, "claimed by another instance")
	if resp.GetSealed() != nil {
		t.Error("sealed secrets were returned to a second instance")
	}
	_, err = sibling.client.ReportResult(t.Context(), result(run, owner.id()))
	wantCode(t, "a second instance reporting a claimed run", err, codes.PermissionDenied, "claimed by another instance")
	if r := c.run(t, run.RunId); r.State != pb.RunState_RUN_STATE_RUNNING || r.AgentId != owner.id() || r.Result != nil {
		t.Fatalf("run is %v claimed by %q with result %v, want running, claimed by the owner, no result", r.State, r.AgentId, r.Result)
	}

	// The owner reports with forged identity fields: the stored result names the owner.
	forged := result(run, stranger.id())
	forged.Result.CheckpointId, forged.Result.CheckpointName, forged.Result.MonitorName = stranger.resp.CheckpointId, "site-b", "something-else"
	if _, err := owner.client.ReportResult(t.Context(), forged); err != nil {
		t.Fatalf("the owner reporting: %v", err)
	}
	got := c.run(t, run.RunId).GetResult()
	if got.GetAgentId() != owner.id() || got.GetCheckpointName() != "site-a" || got.GetCheckpointId() != owner.resp.CheckpointId || got.GetMonitorName() != "orders" {
		t.Errorf("stored result names agent %q checkpoint %q/%q monitor %q; want the certificate's identity %q, site-a, orders",
			got.GetAgentId(), got.GetCheckpointName(), got.GetCheckpointId(), got.GetMonitorName(), owner.id())
	}
	_, err = stranger.client.ReportResult(t.Context(), result(run, owner.id()))
	wantCode(t, "another checkpoint's agent reporting after the run ended", err, codes.NotFound, "not found")

	st := c.stopAndOpenStore(t)
	results := 0
	if err := st.Results(0, func(*pb.RunResult) bool { results++; return true }); err != nil {
		t.Fatal(err)
	}
	if results != 1 {
		t.Errorf("%d results stored, want 1", results)
	}
	log, err := st.AuditLog()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct{ who, actor, action string }{
		{"stranger", stranger.id(), "denied_fetch_run_secrets"},
		{"stranger", stranger.id(), "denied_report_result"},
		{"sibling", sibling.id(), "denied_fetch_run_secrets"},
		{"sibling", sibling.id(), "denied_report_result"},
		{"owner", owner.id(), "fetch_run_secrets"},
	} {
		if !auditHas(log, want.actor, want.action, run.RunId) {
			t.Errorf("audit log has no %s entry for the %s on run %s", want.action, want.who, run.RunId)
		}
	}
	for _, e := range log {
		if strings.Contains(fmt.Sprint(e), apiPassword) {
			t.Errorf("audit entry holds the password: %+v", e)
		}
	}
}

// TestRevocation: revoking a checkpoint closes its agent's NATS connection within one heartbeat
// (10s), refuses it on gRPC, refuses its late result (audited), and leaves other checkpoints alone.
func TestRevocation(t *testing.T) {
	t.Parallel()
	c := startController(t)
	c.addCredentials(t)
	revoked := c.enroll(t, "site-a", "private", "a1")
	kept := c.enroll(t, "site-b", "private", "b1")
	c.applyMonitor(t, "orders", "site-a", "site-b")
	revokedBus, keptBus := revoked.subscribe(t), kept.subscribe(t)

	run := c.trigger(t, "orders", "site-a")
	collect(t, map[string]*bus{"a1": revokedBus}, map[string]bool{run.RunId: true})
	if _, err := revoked.client.FetchRunSecrets(t.Context(), &pb.FetchRunSecretsRequest{RunId: run.RunId, Attempt: run.Attempt}); err != nil {
		t.Fatalf("claiming the run before revocation: %v", err)
	}

	rr, err := c.admin.RevokeCheckpoint(t.Context(), &pb.RevokeCheckpointRequest{Name: "site-a"})
	if err != nil || rr.AgentsRevoked != 1 {
		t.Fatalf("revoking site-a: %v (%d agents)", err, rr.GetAgentsRevoked())
	}
	const heartbeat = 10 * time.Second // the agent's default heartbeat interval
	select {
	case <-revokedBus.closed:
	case <-time.After(heartbeat):
		t.Fatalf("the revoked agent was still connected to NATS %v after revocation", heartbeat)
	}
	if nc, err := revoked.dialNATS(); err == nil {
		nc.Close()
		t.Error("the revoked agent could connect to NATS again")
	} else if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Errorf("reconnecting: %v, want an authorization violation", err)
	}

	_, err = revoked.client.ReportResult(t.Context(), result(run, revoked.id()))
	wantCode(t, "late result from a revoked agent", err, codes.PermissionDenied, "revoked")
	_, err = revoked.client.Heartbeat(t.Context(), &pb.HeartbeatRequest{Version: "test"})
	wantCode(t, "heartbeat from a revoked agent", err, codes.PermissionDenied, "revoked")
	// The controller itself may have ended the run (its checkpoint has no live instance left).
	if r := c.run(t, run.RunId); r.Result != nil && r.Result.AgentId != "" {
		t.Errorf("a revoked agent's result was stored: %v", r.Result)
	}

	// The other checkpoint's agent is untouched.
	if err := keptBus.nc.Flush(); err != nil {
		t.Fatalf("the other checkpoint's agent lost NATS: %v", err)
	}
	if _, err := kept.client.Heartbeat(t.Context(), &pb.HeartbeatRequest{Version: "test"}); err != nil {
		t.Fatalf("the other checkpoint's agent was refused: %v", err)
	}
	list, err := c.admin.ListCheckpoints(t.Context(), &pb.ListCheckpointsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cp := range list.Checkpoints {
		for _, ag := range cp.Agents {
			if want := cp.Name == "site-a"; ag.Revoked != want || (want && ag.Online) {
				t.Errorf("checkpoint list: %s agent revoked=%v online=%v", cp.Name, ag.Revoked, ag.Online)
			}
		}
	}

	log, err := c.stopAndOpenStore(t).AuditLog()
	if err != nil {
		t.Fatal(err)
	}
	if !auditHas(log, revoked.id(), "denied_agent_call", "ReportResult") {
		t.Error("the revoked agent's late result is not in the audit log")
	}
}

// TestInstancesShareRuns: two instances of one checkpoint get each of its runs exactly once
// between them (one queue group), a private checkpoint's agent never sees them, and when one
// instance leaves the other receives every later run.
func TestInstancesShareRuns(t *testing.T) {
	t.Parallel()
	c := startController(t)
	c.addCredentials(t)
	first := c.enroll(t, "site-a", "public", "a1")
	second := c.enroll(t, "site-a", "public", "a2")
	private := c.enroll(t, "site-p", "private", "p1")
	c.applyMonitor(t, "orders", "site-a", "site-p")
	if first.resp.RunSubject != second.resp.RunSubject || first.resp.QueueGroup != second.resp.QueueGroup {
		t.Fatalf("instances of one checkpoint got subjects %q/%q and groups %q/%q, want the same", first.resp.RunSubject, second.resp.RunSubject, first.resp.QueueGroup, second.resp.QueueGroup)
	}
	if private.resp.RunSubject == first.resp.RunSubject || private.resp.QueueGroup == first.resp.QueueGroup {
		t.Fatalf("a private and a public checkpoint share subject %q or queue group %q", private.resp.RunSubject, private.resp.QueueGroup)
	}
	buses := map[string]*bus{"a1": first.subscribe(t), "a2": second.subscribe(t), "p1": private.subscribe(t)}

	const n = 20
	sent := map[string]bool{}
	for range n {
		sent[c.trigger(t, "orders", "site-a").RunId] = true
	}
	got := collect(t, buses, sent)
	byRun := map[string][]string{}
	for inst, runs := range got {
		for _, id := range runs {
			byRun[id] = append(byRun[id], inst)
		}
	}
	for id := range sent {
		if len(byRun[id]) != 1 || byRun[id][0] == "p1" {
			t.Errorf("run %s was delivered to %v, want exactly one instance of site-a", id, byRun[id])
		}
	}
	t.Logf("sent %d runs: a1 received %d, a2 received %d, p1 received %d", n, len(got["a1"]), len(got["a2"]), len(got["p1"]))

	// One instance stops; every later run reaches the other one.
	buses["a1"].leave(t)
	delete(buses, "a1")
	later := map[string]bool{}
	for range n / 2 {
		later[c.trigger(t, "orders", "site-a").RunId] = true
	}
	got = collect(t, buses, later)
	for _, id := range got["a2"] {
		delete(later, id)
	}
	if len(later) != 0 || len(got["p1"]) != 0 {
		t.Errorf("after a1 left, a2 missed %d of %d runs and p1 received %d", len(later), n/2, len(got["p1"]))
	}

	// Each instance shows in the checkpoint list with its own version once it has sent a heartbeat.
	for _, a := range []*agent{first, second} {
		if _, err := a.client.Heartbeat(t.Context(), &pb.HeartbeatRequest{Version: "v-" + a.id()}); err != nil {
			t.Fatal(err)
		}
	}
	list, err := c.admin.ListCheckpoints(t.Context(), &pb.ListCheckpointsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cp := range list.Checkpoints {
		if cp.Name != "site-a" {
			continue
		}
		if len(cp.Agents) != 2 {
			t.Fatalf("site-a lists %d instances, want 2", len(cp.Agents))
		}
		for _, ag := range cp.Agents {
			if ag.Version != "v-"+ag.Id || ag.LastSeen == nil || !ag.Online {
				t.Errorf("instance %s: version %q last seen %v online %v", ag.Id, ag.Version, ag.LastSeen, ag.Online)
			}
		}
	}
}

// collect waits until the buses together received every run in want (up to 20s), flushes each
// connection so any duplicate delivery shows too, and returns which of those runs each received.
// Other runs (the scheduler runs a new monitor once on every checkpoint) are left out.
func collect(t *testing.T, buses map[string]*bus, want map[string]bool) map[string][]string {
	t.Helper()
	got := map[string][]string{}
	seen := map[string]bool{}
	take := func(name string, req *pb.RunRequest) {
		if want[req.RunId] {
			got[name] = append(got[name], req.RunId)
			seen[req.RunId] = true
		}
	}
	testutil.EventuallyValue(t, "the buses to receive every run requested", 20*time.Second, func() (int, error) {
		for name, b := range buses {
			for drained := false; !drained; {
				select {
				case req := <-b.runs:
					take(name, req)
				default:
					drained = true
				}
			}
		}
		if len(seen) < len(want) {
			return len(seen), fmt.Errorf("received %d of %d run requests: %v", len(seen), len(want), got)
		}
		return len(seen), nil
	})
	for name, b := range buses {
		if err := b.nc.Flush(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for drained := false; !drained; {
			select {
			case req := <-b.runs:
				take(name, req)
			default:
				drained = true
			}
		}
	}
	return got
}
