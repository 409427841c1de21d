package checkpoint

import (
	"testing"

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
