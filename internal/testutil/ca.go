package testutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// CA is a throw-away certificate authority made in the test.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// NewCA makes a CA valid for a day.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &CA{Cert: cert, Key: key}
}

// Pool is a pool with only this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// PEM is the CA certificate in PEM.
func (ca *CA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// Leaf is an issued certificate with its key.
type Leaf struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// Issue signs a certificate for cn: a client certificate, or a server one for 127.0.0.1 when server.
func (ca *CA) Issue(t testing.TB, cn string, server bool) *Leaf {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &Leaf{Cert: cert, Key: key}
}

// PKCS8 is the leaf's private key in PKCS#8 DER.
func (l *Leaf) PKCS8() []byte {
	b, err := x509.MarshalPKCS8PrivateKey(l.Key)
	if err != nil {
		panic(err)
	}
	return b
}

// PKCS12 encodes the leaf, its key and the CA with go-pkcs12's modern encoder.
func (l *Leaf) PKCS12(t testing.TB, ca *CA, password string) []byte {
	t.Helper()
	b, err := pkcs12.Modern2023.Encode(l.Key, l.Cert, []*x509.Certificate{ca.Cert}, password)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// OpenSSLPKCS12 makes the archive with the openssl command, passing extra flags (e.g. -legacy,
// -nokeys). It skips the test when openssl is not installed.
func (l *Leaf) OpenSSLPKCS12(t testing.TB, ca *CA, password string, extra ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed (scripts/install-deps.sh installs it)")
	}
	dir := t.TempDir()
	certFile, keyFile := l.WritePEM(t, dir, "leaf")
	caFile := WriteFile(t, dir, "ca.pem", ca.PEM())
	pwFile := WriteFile(t, dir, "pw", []byte(password))
	out := filepath.Join(dir, "out.p12")
	args := append([]string{"pkcs12", "-export", "-in", certFile, "-inkey", keyFile, "-certfile", caFile, "-passout", "file:" + pwFile, "-out", out}, extra...)
	if msg, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// MTLSServer starts an HTTPS server on 127.0.0.1 that demands a client certificate signed by
// clientCA; its own certificate is signed by serverCA.
func MTLSServer(t testing.TB, serverCA, clientCA *CA, h http.Handler) *httptest.Server {
	t.Helper()
	leaf := serverCA.Issue(t, "target", true)
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key}},
		ClientCAs:    clientCA.Pool(), ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// WriteFile writes b to a new file in dir with mode 0600 and returns its path.
func WriteFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
