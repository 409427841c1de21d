package testutil

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
)

// TestLeafWritePEMLoadsAsAKeyPair: the files a leaf writes load as a TLS key pair, hold that leaf,
// and only their owner can read them.
func TestLeafWritePEMLoadsAsAKeyPair(t *testing.T) {
	t.Parallel()
	leaf := NewCA(t, "pem CA").Issue(t, "client", false)
	dir := t.TempDir()
	certFile, keyFile := leaf.WritePEM(t, dir, "client")
	if certFile != filepath.Join(dir, "client.pem") || keyFile != filepath.Join(dir, "client.key") {
		t.Errorf("wrote %s and %s, want client.pem and client.key in %s", certFile, keyFile, dir)
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatalf("the written files are not a key pair: %v", err)
	}
	if !bytes.Equal(pair.Certificate[0], leaf.Cert.Raw) {
		t.Error("the certificate file holds another certificate than the leaf")
	}
	for _, f := range []string{certFile, keyFile} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v), want 0600", f, fi.Mode().Perm(), err)
		}
	}
}

// TestControllerCAServerPEM: the server certificate verifies for its host against the CA file in
// the data dir, and a second call reuses that CA as the controller would.
func TestControllerCAServerPEM(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "data") // not there yet: made
	first := ControllerCAServerPEM(t, data, dir, "nats", "127.0.0.1")
	caPEM, err := os.ReadFile(first.CAFile)
	if err != nil {
		t.Fatalf("no CA file at %s: %v", first.CAFile, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("%s holds no certificate", first.CAFile)
	}
	pair, err := tls.LoadX509KeyPair(first.CertFile, first.KeyFile)
	if err != nil {
		t.Fatalf("the written files are not a key pair: %v", err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.1"}); err != nil {
		t.Errorf("the server certificate does not verify for 127.0.0.1 against the data dir's CA: %v", err)
	}
	second := ControllerCAServerPEM(t, data, t.TempDir(), "other", "127.0.0.1")
	if again, _ := os.ReadFile(second.CAFile); !bytes.Equal(again, caPEM) {
		t.Error("a second call replaced the CA in the data dir: the controller would no longer trust the first certificate")
	}
}
