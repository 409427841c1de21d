package checkpoint

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// TestAgentUsesUnaryCallsWithAnOlderController: a controller without RunCalls answers the stream
// with Unimplemented; the agent claims and reports the run with the unary calls instead, and stays
// on them.
func TestAgentUsesUnaryCallsWithAnOlderController(t *testing.T) {
	t.Parallel()
	f := newGuardFixtureWith(t, "public", false)
	for range 2 {
		f.agent.execute(t.Context(), request(pb.CertificateSource_CERTIFICATE_SOURCE_UNSPECIFIED))
	}
	fetches, reports := f.rogue.seen()
	if fetches != 2 || len(reports) != 2 {
		t.Fatalf("fetches %d, reports %d; want 2 and 2 over the unary calls", fetches, len(reports))
	}
	if !f.agent.calls().UsesUnary() {
		t.Error("the agent did not remember that this controller has no RunCalls")
	}
	if n := f.cap.count("grpc:/lookout.v1.AgentService/ReportResult"); n != 2 {
		t.Errorf("the tap saw %d ReportResult answers, want 2", n)
	}
}

// TestClaimRetriesOnlyWhileTheControllerIsOutOfReach: a claim answered Unavailable is made again
// and the run goes on; one answered Internal is not (it would fail, and be audited, on every try).
func TestClaimRetriesOnlyWhileTheControllerIsOutOfReach(t *testing.T) {
	t.Parallel()
	f := newGuardFixture(t, "public")
	f.rogue.fail = []error{status.Error(codes.Unavailable, "restarting"), status.Error(codes.Unavailable, "restarting")}
	f.agent.execute(t.Context(), request(pb.CertificateSource_CERTIFICATE_SOURCE_UNSPECIFIED))
	if fetches, reports := f.rogue.seen(); fetches != 3 || len(reports) != 1 {
		t.Fatalf("after two Unavailable answers: fetches %d, reports %d; want 3 and 1", fetches, len(reports))
	}
	f.rogue.mu.Lock()
	f.rogue.fail = []error{status.Error(codes.Internal, "sealing run secrets: broken")}
	f.rogue.mu.Unlock()
	f.agent.execute(t.Context(), request(pb.CertificateSource_CERTIFICATE_SOURCE_UNSPECIFIED))
	if fetches, reports := f.rogue.seen(); fetches != 4 || len(reports) != 1 {
		t.Errorf("after an Internal answer: fetches %d, reports %d; want 4 and 1 (no retry, nothing run)", fetches, len(reports))
	}
}
