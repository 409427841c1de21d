package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

var (
	testNotBefore = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	testNotAfter  = testNotBefore.Add(365 * 24 * time.Hour)
)

type issued struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newKey(t *testing.T, kind string) crypto.Signer {
	t.Helper()
	var (
		key crypto.Signer
		err error
	)
	switch kind {
	case "rsa":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case "p256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p384":
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ed25519":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("unknown key kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func issue(t *testing.T, tmpl *x509.Certificate, key crypto.Signer, parent *issued) issued {
	t.Helper()
	signer, parentCert := key, tmpl
	if parent != nil {
		signer, parentCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return issued{cert: cert, key: key}
}

func newCA(t *testing.T) issued {
	t.Helper()
	return issue(t, &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Test CA", Organization: []string{"Lookout Tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}, newKey(t, "p256"), nil)
}

func newLeaf(t *testing.T, ca issued, kind string, eku []x509.ExtKeyUsage) issued {
	t.Helper()
	return issue(t, &x509.Certificate{
		SerialNumber:   big.NewInt(0x1f2e3d),
		Subject:        pkix.Name{CommonName: "client-" + kind},
		NotBefore:      time.Now().Add(-time.Hour),
		NotAfter:       time.Now().Add(24 * time.Hour),
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    eku,
		DNSNames:       []string{"client.example"},
		IPAddresses:    []net.IP{net.ParseIP("127.0.0.1")},
		EmailAddresses: []string{"ops@example.com"},
		URIs:           []*url.URL{{Scheme: "spiffe", Host: "example", Path: "/client"}},
	}, newKey(t, kind), &ca)
}

func pkcs8(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	leaf := issue(t, &x509.Certificate{
		SerialNumber:   big.NewInt(0xabcdef),
		Subject:        pkix.Name{CommonName: "partner client", Organization: []string{"Acme"}},
		NotBefore:      testNotBefore,
		NotAfter:       testNotAfter,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		DNSNames:       []string{"a.example", "b.example"},
		IPAddresses:    []net.IP{net.ParseIP("192.0.2.1"), net.ParseIP("2001:db8::1")},
		EmailAddresses: []string{"ops@example.com"},
		URIs:           []*url.URL{{Scheme: "spiffe", Host: "acme", Path: "/client"}},
	}, newKey(t, "p256"), &ca)
	sum := sha256.Sum256(leaf.cert.Raw)

	got := Describe([]*x509.Certificate{leaf.cert, ca.cert})
	want := &lookoutv1.CertificateInfo{
		Subject:           "CN=partner client,O=Acme",
		Issuer:            "CN=Test CA,O=Lookout Tests",
		Sans:              []string{"a.example", "b.example", "192.0.2.1", "2001:db8::1", "ops@example.com", "spiffe://acme/client"},
		Serial:            "abcdef",
		NotBefore:         timestamppb.New(testNotBefore),
		NotAfter:          timestamppb.New(testNotAfter),
		Sha256Fingerprint: hex.EncodeToString(sum[:]),
		KeyType:           "ECDSA P-256",
		ChainLength:       2,
		ClientAuthAllowed: true,
	}
	if diff := cmp.Diff(got, want, protocmp.Transform()); diff != "" {
		t.Errorf("Describe (-got +want):\n%s", diff)
	}
}

func TestDescribeEmpty(t *testing.T) {
	t.Parallel()
	if got := Describe(nil); got != nil {
		t.Errorf("Describe(nil) = %v, want nil", got)
	}
}

func TestKeyType(t *testing.T) {
	t.Parallel()
	for kind, want := range map[string]string{
		"rsa":     "RSA 2048",
		"p256":    "ECDSA P-256",
		"p384":    "ECDSA P-384",
		"ed25519": "Ed25519",
	} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			if got := KeyType(newKey(t, kind).Public()); got != want {
				t.Errorf("KeyType = %q, want %q", got, want)
			}
		})
	}
}

func TestClientAuthAllowed(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	tests := map[string]struct {
		eku  []x509.ExtKeyUsage
		want bool
	}{
		"no EKU":          {nil, true},
		"client auth":     {[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, true},
		"any":             {[]x509.ExtKeyUsage{x509.ExtKeyUsageAny}, true},
		"server auth":     {[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, false},
		"code signing":    {[]x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}, false},
		"email + servers": {[]x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection, x509.ExtKeyUsageServerAuth}, false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			leaf := newLeaf(t, ca, "p256", tt.eku)
			if got := ClientAuthAllowed(leaf.cert); got != tt.want {
				t.Errorf("ClientAuthAllowed = %v, want %v", got, tt.want)
			}
			if got := Describe([]*x509.Certificate{leaf.cert}).GetClientAuthAllowed(); got != tt.want {
				t.Errorf("Describe().ClientAuthAllowed = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	t.Parallel()
	got := Fingerprint([]byte("abc"))
	want := "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got != want {
		t.Errorf("Fingerprint = %q, want %q", got, want)
	}
}

func TestTLSCertificate(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	for _, kind := range []string{"rsa", "p256", "p384", "ed25519"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			leaf := newLeaf(t, ca, kind, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth})
			chain := [][]byte{leaf.cert.Raw, ca.cert.Raw}
			got, err := TLSCertificate(chain, pkcs8(t, leaf.key))
			if err != nil {
				t.Fatalf("TLSCertificate: %v", err)
			}
			if diff := cmp.Diff(got.Certificate, chain); diff != "" {
				t.Errorf("chain (-got +want):\n%s", diff)
			}
			if got.Leaf == nil || !got.Leaf.Equal(leaf.cert) {
				t.Errorf("Leaf = %v, want the leaf certificate", got.Leaf)
			}
			if !KeyMatches(got.PrivateKey, leaf.cert.PublicKey) {
				t.Error("PrivateKey does not match the leaf")
			}
		})
	}
}

func TestTLSCertificateErrors(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	leaf := newLeaf(t, ca, "p256", nil)
	other := newKey(t, "p256")
	tests := map[string]struct {
		chain [][]byte
		key   []byte
		want  string
	}{
		"empty chain":    {nil, pkcs8(t, leaf.key), "certificate chain is empty"},
		"bad leaf":       {[][]byte{[]byte("nope")}, pkcs8(t, leaf.key), "parsing leaf certificate"},
		"bad key":        {[][]byte{leaf.cert.Raw}, []byte("nope"), "parsing private key"},
		"key of CA":      {[][]byte{leaf.cert.Raw}, pkcs8(t, ca.key), "private key does not match the certificate"},
		"unrelated key":  {[][]byte{leaf.cert.Raw, ca.cert.Raw}, pkcs8(t, other), "private key does not match the certificate"},
		"key type mixup": {[][]byte{leaf.cert.Raw}, pkcs8(t, newKey(t, "ed25519")), "private key does not match the certificate"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := TLSCertificate(tt.chain, tt.key)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("TLSCertificate error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestTLSCertificateHandshake presents the built certificate to a real TLS server on loopback
// that demands and verifies a client certificate.
func TestTLSCertificateHandshake(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	leaf := newLeaf(t, ca, "rsa", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth})
	clientCert, err := TLSCertificate([][]byte{leaf.cert.Raw, ca.cert.Raw}, pkcs8(t, leaf.key))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(Fingerprint(r.TLS.PeerCertificates[0].Raw)))
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	client := srv.Client()
	client.Transport.(*http.Transport).TLSClientConfig.Certificates = []tls.Certificate{clientCert}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("request with client certificate: %v", err)
	}
	defer resp.Body.Close()
	var body strings.Builder
	if _, err := io.Copy(&body, resp.Body); err != nil {
		t.Fatal(err)
	}
	if got, want := body.String(), Fingerprint(leaf.cert.Raw); got != want {
		t.Errorf("server saw client certificate %s, want %s", got, want)
	}
}
