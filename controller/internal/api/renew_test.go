package api_test

import (
	"crypto/x509"
	"encoding/pem"
	"testing"

	"google.golang.org/grpc/codes"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/pki"
)

// TestRenewCertificate: an enrolled agent gets a certificate for its new key with its own identity
// (the kind from the checkpoint's record); a CSR that is not one is refused; a revoked agent is
// refused and audited.
func TestRenewCertificate(t *testing.T) {
	t.Parallel()
	c := startController(t)
	ag := c.enroll(t, "site-r", "private", "r1")
	next := newEnrollRequest(t, "", "r1")
	resp, err := ag.client.RenewCertificate(t.Context(), &pb.RenewCertificateRequest{CsrDer: next.req.CsrDer})
	if err != nil {
		t.Fatalf("renewing: %v", err)
	}
	block, _ := pem.Decode(resp.CertificatePem)
	if block == nil {
		t.Fatal("no certificate in the answer")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	id, err := pki.IdentityFromCert(cert)
	if err != nil || id.AgentID != ag.id() || id.CheckpointID != ag.resp.CheckpointId || id.Kind != "private" {
		t.Errorf("renewed identity %+v (%v), want agent %s of %s, private", id, err, ag.id(), ag.resp.CheckpointId)
	}
	if !next.key.PublicKey.Equal(cert.PublicKey) {
		t.Error("the renewed certificate is not for the key in the CSR")
	}

	_, err = ag.client.RenewCertificate(t.Context(), &pb.RenewCertificateRequest{CsrDer: []byte("not a CSR")})
	wantCode(t, "renewing with garbage for a CSR", err, codes.InvalidArgument, "csr_der")

	if _, err := c.admin.RevokeCheckpoint(t.Context(), &pb.RevokeCheckpointRequest{Name: "site-r"}); err != nil {
		t.Fatal(err)
	}
	_, err = ag.client.RenewCertificate(t.Context(), &pb.RenewCertificateRequest{CsrDer: next.req.CsrDer})
	wantCode(t, "a revoked agent renewing", err, codes.PermissionDenied, "revoked")
}
