package api_test

import (
	"bytes"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/sealing"
)

type callStream = grpc.BidiStreamingClient[pb.RunCall, pb.RunCallReply]

// exchange sends calls on the stream, then reads one reply per call, keyed by id.
func exchange(t *testing.T, s callStream, calls ...*pb.RunCall) map[uint64]*pb.RunCallReply {
	t.Helper()
	for _, c := range calls {
		if err := s.Send(c); err != nil {
			t.Fatalf("sending call %d: %v", c.Id, err)
		}
	}
	out := map[uint64]*pb.RunCallReply{}
	for range calls {
		r, err := s.Recv()
		if err != nil {
			t.Fatalf("reading replies: %v (got %d of %d)", err, len(out), len(calls))
		}
		out[r.Id] = r
	}
	return out
}

func fetchCall(id uint64, r *pb.Run, attempt int32) *pb.RunCall {
	return &pb.RunCall{Id: id, Call: &pb.RunCall_FetchRunSecrets{FetchRunSecrets: &pb.FetchRunSecretsRequest{RunId: r.RunId, Attempt: attempt}}}
}

func reportCall(id uint64, req *pb.ReportResultRequest) *pb.RunCall {
	return &pb.RunCall{Id: id, Call: &pb.RunCall_ReportResult{ReportResult: req}}
}

func replyErr(r *pb.RunCallReply) error {
	if e := r.GetError(); e != nil {
		return status.Error(codes.Code(e.Code), e.Message)
	}
	return nil
}

// TestRunCallsStream: claims and results as messages on one stream, answered by id; a refused call
// answers that call only; a revocation refuses the next call, ends the stream and is audited.
func TestRunCallsStream(t *testing.T) {
	t.Parallel()
	c := startController(t)
	c.addCredentials(t)
	owner := c.enroll(t, "site-a", "public", "a1")
	stranger := c.enroll(t, "site-b", "private", "b1")
	c.applyMonitor(t, "orders", "site-a", "site-b")
	run1, run2 := c.trigger(t, "orders", "site-a"), c.trigger(t, "orders", "site-a")

	s, err := owner.client.RunCalls(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := exchange(t, s, fetchCall(1, run1, run1.Attempt), fetchCall(2, run2, run2.Attempt+1), fetchCall(3, run2, run2.Attempt))
	if err := replyErr(got[1]); err != nil {
		t.Fatalf("claiming run 1 on the stream: %v", err)
	}
	plain, err := sealing.Open(owner.sealing, sealing.Info(owner.id(), run1.RunId, run1.Attempt), got[1].GetFetchRunSecrets().GetSealed())
	if err != nil || !bytes.Contains(plain, []byte(apiPassword)) {
		t.Fatalf("the secrets sent on the stream did not open (%v) or lack the credential", err)
	}
	wantCode(t, "claiming another attempt on the stream", replyErr(got[2]), codes.PermissionDenied, "attempt")
	if err := replyErr(got[3]); err != nil {
		t.Fatalf("claiming run 2 after a refused call on the same stream: %v", err)
	}

	got = exchange(t, s, reportCall(4, result(run1, owner.id())), reportCall(5, result(run2, owner.id())),
		reportCall(6, &pb.ReportResultRequest{Result: &pb.RunResult{}}), reportCall(7, result(run1, owner.id())), &pb.RunCall{Id: 8})
	for _, id := range []uint64{4, 5} {
		if err := replyErr(got[id]); err != nil || got[id].GetReportResult() == nil {
			t.Errorf("report %d: %v (reply %v)", id, err, got[id])
		}
	}
	wantCode(t, "a result without a run id", replyErr(got[6]), codes.InvalidArgument, "run_id")
	// Calls 4 and 7 report run 1 twice, concurrently: one stores it, the other is acknowledged as
	// a duplicate, whichever commits second.
	if got[4].GetReportResult().GetDuplicate() == got[7].GetReportResult().GetDuplicate() {
		t.Errorf("reporting run 1 twice: %v and %v, want one stored and one acknowledged duplicate", got[4], got[7])
	}
	wantCode(t, "a call with nothing in it", replyErr(got[8]), codes.InvalidArgument, "neither")
	for _, r := range []*pb.Run{run1, run2} {
		if st := c.run(t, r.RunId); st.State != pb.RunState_RUN_STATE_DONE || st.GetResult().GetAgentId() != owner.id() {
			t.Errorf("run %s is %v with result from %q, want done by the owner", r.RunId, st.State, st.GetResult().GetAgentId())
		}
	}

	// Another checkpoint's agent: its call is refused, its stream goes on.
	run3 := c.trigger(t, "orders", "site-a")
	ss, err := stranger.client.RunCalls(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got = exchange(t, ss, fetchCall(1, run3, run3.Attempt))
	wantCode(t, "another checkpoint's agent claiming on the stream", replyErr(got[1]), codes.NotFound, "not found")

	// Revoked while its stream is open: the next call is refused and the stream ends.
	if _, err := c.admin.RevokeCheckpoint(t.Context(), &pb.RevokeCheckpointRequest{Name: "site-b"}); err != nil {
		t.Fatal(err)
	}
	run4 := c.trigger(t, "orders", "site-b")
	got = exchange(t, ss, fetchCall(2, run4, run4.Attempt))
	wantCode(t, "a revoked agent claiming on its open stream", replyErr(got[2]), codes.PermissionDenied, "revoked")
	if _, err := ss.Recv(); status.Code(err) != codes.PermissionDenied {
		t.Errorf("after the refusal the stream ended with %v, want PermissionDenied", err)
	}
	if r := c.run(t, run4.RunId); r.AgentId != "" {
		t.Errorf("the revoked agent claimed run %s", r.RunId)
	}
	st := c.stopAndOpenStore(t)
	log, err := st.AuditLog()
	if err != nil {
		t.Fatal(err)
	}
	if !auditHas(log, stranger.id(), "denied_agent_call", "FetchRunSecrets") {
		t.Error("the revoked agent's refused call on the stream is not in the audit log")
	}
	if !auditHas(log, owner.id(), "fetch_run_secrets", run1.RunId) {
		t.Error("the claim made on the stream is not in the audit log")
	}
}
