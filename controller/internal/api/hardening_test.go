package api_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

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
