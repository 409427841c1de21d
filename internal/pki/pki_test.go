package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCAIsCreatedOnceAndReloaded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca1, created, err := LoadOrCreateCA(dir)
	if err != nil || !created {
		t.Fatalf("first LoadOrCreateCA: created=%v err=%v", created, err)
	}
	st, err := os.Stat(filepath.Join(dir, "ca.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("ca.key mode = %v (err %v), want 0600", st.Mode().Perm(), err)
	}
	ca2, created, err := LoadOrCreateCA(dir)
	if err != nil || created {
		t.Fatalf("second LoadOrCreateCA: created=%v err=%v", created, err)
	}
	if !ca1.Cert.Equal(ca2.Cert) {
		t.Fatal("reloaded CA differs from the created one")
	}
}

func TestIncompleteCAIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateCA(dir); err == nil {
		t.Fatal("LoadOrCreateCA accepted a data dir with ca.pem but no ca.key")
	}
}

func TestAgentCertificateCarriesIdentityAndVerifies(t *testing.T) {
	t.Parallel()
	ca, _, err := LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	want := Identity{AgentID: "ag_1", CheckpointID: "cp_2", Kind: "private"}
	der, err := ca.IssueAgentCertificate(csr, want, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("agent certificate does not verify against the CA: %v", err)
	}
	got, err := IdentityFromCert(cert)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("identity (-want +got):\n%s", diff)
	}
}

func TestTamperedCSRIsRefused(t *testing.T) {
	t.Parallel()
	ca, _, _ := LoadOrCreateCA(t.TempDir())
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	csr[len(csr)-3] ^= 0xff
	if _, err := ca.IssueAgentCertificate(csr, Identity{AgentID: "a", CheckpointID: "c", Kind: "public"}, time.Hour); err == nil {
		t.Fatal("a CSR with a broken signature was accepted")
	}
}

// Serial numbers are positive, fit RFC 5280's 20 octets, and do not repeat.
func TestRandomSerial(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		n := randomSerial()
		if n.Sign() <= 0 || n.BitLen() > 127 {
			t.Fatalf("serial %s: want a positive number of at most 127 bits", n)
		}
		if seen[n.String()] {
			t.Fatalf("serial %s repeated", n)
		}
		seen[n.String()] = true
	}
}
