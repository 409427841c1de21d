package api_test

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// TestAgentWordsAreRestricted: an instance name or version holding a terminal escape (or anything
// but printable ASCII, or too long) is refused at enrollment, before the token is spent, and in a
// heartbeat; what is stored stays what was accepted.
func TestAgentWordsAreRestricted(t *testing.T) {
	t.Parallel()
	c := startController(t)
	tok := c.token(t, "site-a", "private")
	anon := c.anonymous(t)
	for name, change := range map[string]func(*pb.EnrollRequest){
		"escape in instance name": func(r *pb.EnrollRequest) { r.InstanceName = "box\x1b[2J" },
		"OSC 8 in version":        func(r *pb.EnrollRequest) { r.Version = "\x1b]8;;https://evil.test/\x07v1" },
		"C1 control":              func(r *pb.EnrollRequest) { r.InstanceName = "box\u009b31m" },
		"long instance name":      func(r *pb.EnrollRequest) { r.InstanceName = strings.Repeat("a", 65) },
	} {
		er := newEnrollRequest(t, tok, "a1")
		change(er.req)
		_, err := anon.Enroll(t.Context(), er.req)
		wantCode(t, name, err, codes.InvalidArgument, "the token was not used")
	}
	a := c.enrollWith(t, tok, "a1") // the token still works
	_, err := a.client.Heartbeat(t.Context(), &pb.HeartbeatRequest{Version: "v2\x1b[2J"})
	wantCode(t, "heartbeat with an escape in its version", err, codes.InvalidArgument, "version: byte 2 (0x1b) is not printable ASCII")
	list, err := c.admin.ListCheckpoints(t.Context(), &pb.ListCheckpointsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if ag := list.Checkpoints[0].Agents[0]; ag.InstanceName != "a1" || ag.Version != "test-a1" {
		t.Fatalf("stored instance %q version %q, want what enrollment accepted", ag.InstanceName, ag.Version)
	}
}

// TestAgentListsAreCapped: every repeated field an agent fills is capped, and a call over a cap is
// refused with the field's path before it costs the controller anything.
func TestAgentListsAreCapped(t *testing.T) {
	t.Parallel()
	c := startController(t)
	a := c.enroll(t, "site-a", "public", "a1")
	refs := make([]*pb.SecretRef, pb.MaxHeldItems+1)
	for i := range refs {
		refs[i] = &pb.SecretRef{ItemId: "vi_0000000000000000", Version: 1}
	}
	_, err := a.client.Heartbeat(t.Context(), &pb.HeartbeatRequest{Version: "v1", Cached: refs})
	wantCode(t, "heartbeat listing too many cached items", err, codes.InvalidArgument, "cached: at most 1024 entries are allowed (got 1025)")
	if resp, err := a.client.Heartbeat(t.Context(), &pb.HeartbeatRequest{Version: "v1", Cached: refs[:pb.MaxHeldItems]}); err != nil || len(resp.Drop) != pb.MaxHeldItems {
		t.Fatalf("heartbeat at the cap: %d to drop, %v; want all %d unknown items dropped", len(resp.GetDrop()), err, pb.MaxHeldItems)
	}
	_, err = a.client.FetchRunSecrets(t.Context(), &pb.FetchRunSecretsRequest{RunId: "run_x", Attempt: 1, Have: refs})
	wantCode(t, "fetch listing too many held items", err, codes.InvalidArgument, "have: at most 1024 entries are allowed")

	headers := make([]*pb.Header, pb.MaxResultHeaders+1)
	for i := range headers {
		headers[i] = &pb.Header{Name: "X", Value: "y"}
	}
	for name, res := range map[string]*pb.RunResult{
		"steps":            {RunId: "run_x", Attempt: 1, Steps: make([]*pb.StepResult, pb.MaxSteps+1)},
		"response headers": {RunId: "run_x", Attempt: 1, Steps: []*pb.StepResult{{ResponseHeaders: headers}}},
		"assertions":       {RunId: "run_x", Attempt: 1, Steps: []*pb.StepResult{{Assertions: make([]*pb.AssertionResult, pb.MaxStepChecks+1)}}},
	} {
		for i, st := range res.Steps {
			if st == nil {
				res.Steps[i] = &pb.StepResult{}
			}
			for j, as := range res.Steps[i].Assertions {
				if as == nil {
					res.Steps[i].Assertions[j] = &pb.AssertionResult{}
				}
			}
		}
		_, err := a.client.ReportResult(t.Context(), &pb.ReportResultRequest{Result: res})
		wantCode(t, "result with too many "+name, err, codes.InvalidArgument, "at most")
	}
}

// TestRefusedCallsDoNotFloodTheAuditLog: the attack from issue 18. An agent sends hundreds of
// claims for runs that are not its own, and a revoked agent keeps calling: each leaves one entry
// at once and one that counts the rest (written at the latest when the controller stops), and
// past its burst an agent is turned away before the store is touched. Its own run still works
// once the burst's interval is over.
func TestRefusedCallsDoNotFloodTheAuditLog(t *testing.T) {
	t.Parallel()
	c := startController(t)
	flooder := c.enroll(t, "site-a", "public", "a1")
	revoked := c.enroll(t, "site-b", "private", "b1")
	if _, err := c.admin.RevokeCheckpoint(t.Context(), &pb.RevokeCheckpointRequest{Name: "site-b"}); err != nil {
		t.Fatal(err)
	}
	const calls = 300
	codesSeen := map[codes.Code]int{}
	for i := range calls {
		_, err := flooder.client.FetchRunSecrets(t.Context(), &pb.FetchRunSecretsRequest{RunId: fmt.Sprintf("run_%024d", i), Attempt: 1})
		codesSeen[status.Code(err)]++
		_, err = revoked.client.FetchRunSecrets(t.Context(), &pb.FetchRunSecretsRequest{RunId: fmt.Sprintf("run_%024d", i), Attempt: 1})
		wantCode(t, "a revoked agent's call", err, codes.PermissionDenied, "revoked")
	}
	if codesSeen[codes.NotFound] == 0 || codesSeen[codes.ResourceExhausted] == 0 || codesSeen[codes.NotFound]+codesSeen[codes.ResourceExhausted] != calls {
		t.Errorf("answers %v: want NotFound until the burst, then ResourceExhausted", codesSeen)
	}

	st := c.stopAndOpenStore(t)
	log, err := st.AuditLog()
	if err != nil {
		t.Fatal(err)
	}
	per := map[string][]store.AuditEntry{}
	for _, e := range log {
		if strings.HasPrefix(e.Action, "denied_") {
			per[e.Actor] = append(per[e.Actor], e)
		}
	}
	for who, a := range map[string]*agent{"flooding": flooder, "revoked": revoked} {
		entries := per[a.id()]
		if len(entries) != 2 {
			t.Errorf("the %s agent's %d refused calls left %d audit entries, want 2 (the first, then a count)", who, calls, len(entries))
			continue
		}
		if want := fmt.Sprintf("%d more refused", calls-1); !strings.HasPrefix(entries[1].Detail, want) {
			t.Errorf("the %s agent's merged entry says %q, want it to start %q", who, entries[1].Detail, want)
		}
	}
}

// TestHeartbeatsAreNotAWriteEach: beats closer together than the least gap are answered but not
// stored, so an agent cannot make them a stream of commits.
func TestHeartbeatsAreNotAWriteEach(t *testing.T) {
	t.Parallel()
	c := startController(t)
	a := c.enroll(t, "site-a", "public", "a1")
	for i := range 50 {
		if _, err := a.client.Heartbeat(t.Context(), &pb.HeartbeatRequest{Version: fmt.Sprintf("v%d", i)}); err != nil {
			t.Fatalf("heartbeat %d: %v", i, err)
		}
	}
	list, err := c.admin.ListCheckpoints(t.Context(), &pb.ListCheckpointsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// 50 beats take far less than 25 gaps here: at most a few were stored.
	var stored int
	if _, err := fmt.Sscanf(list.Checkpoints[0].Agents[0].Version, "v%d", &stored); err != nil || stored > 25 {
		t.Fatalf("stored version %q after 50 quick beats, want an early one (beats past the first are not all written)", list.Checkpoints[0].Agents[0].Version)
	}
}
