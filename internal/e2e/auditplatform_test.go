package e2e

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// TestAuditNamesThePlatformCertificate: when a run uses the platform certificate, its
// fetch_run_secrets entry names it "platform" with its SHA-256 fingerprint, not as a version
// number derived from a hash.
func TestAuditNamesThePlatformCertificate(t *testing.T) {
	s := startSystem(t)
	if r := s.monitor(t, "platform-mtls", "public-1", "{source: platform}"); r.Code != 0 {
		t.Fatalf("apply platform-mtls: %s", r.Stderr)
	}
	res, code := s.run(t, "platform-mtls", "public-1")
	if code != 0 || len(res.Steps) == 0 || res.Steps[0].ClientCertificate == nil {
		t.Fatalf("run: exit %d, outcome %v: %s", code, res.Outcome, res.Message)
	}
	leaf := res.Steps[0].ClientCertificate
	out := s.c.MustCLI(t, "", "audit", "--action", "fetch_run_secrets", "-o", "json")
	entries := &pb.ListAuditEntriesResponse{}
	if err := protojson.Unmarshal([]byte(out), entries); err != nil {
		t.Fatalf("audit: %v\n%s", err, out)
	}
	var detail string
	for _, e := range entries.Entries {
		if e.Target == res.RunId {
			detail = e.Detail
		}
	}
	// The agent may already hold the certificate from the run scheduled at apply: then it is
	// named under reused= rather than items=.
	want := "=platform(sha256:" + leaf.Sha256Fingerprint + ")"
	if leaf.Sha256Fingerprint == "" || !strings.Contains(detail, want) || strings.Contains(detail, "platform@v") {
		t.Errorf("fetch_run_secrets entry for run %s: %q, want it to name the certificate as %q", res.RunId, detail, want[1:])
	}
}
