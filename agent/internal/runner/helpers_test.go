package runner

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Lookout Test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// issue signs a leaf certificate valid for 10 days: a server certificate for
// 127.0.0.1 or a client certificate.
func (ca *testCA) issue(t *testing.T, cn string, server bool) *tls.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Lookout Tests"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(10*24*time.Hour + time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// newTLSServer starts an HTTPS server with a certificate from ca; with
// clientAuth it requires a client certificate signed by ca. configure, if
// any, runs before the server starts.
func newTLSServer(t *testing.T, ca *testCA, clientAuth bool, h http.Handler,
	configure ...func(*httptest.Server)) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{*ca.issue(t, "target", true)}}
	if clientAuth {
		srv.TLS.ClientAuth = tls.RequireAndVerifyClientCert
		srv.TLS.ClientCAs = ca.pool
	}
	srv.Config.ErrorLog = quietLog()
	for _, f := range configure {
		f(srv)
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// step builders

func get(name, url string, asserts ...*lookoutv1.Assertion) *lookoutv1.Step {
	return &lookoutv1.Step{Name: name, Request: &lookoutv1.HttpRequest{Url: url}, Assert: asserts}
}

func statusIs(code string) *lookoutv1.Assertion {
	return &lookoutv1.Assertion{
		Source: lookoutv1.AssertSource_ASSERT_SOURCE_STATUS, Comparison: lookoutv1.Comparison_COMPARISON_EQUAL, Value: code,
	}
}

func monitor(steps ...*lookoutv1.Step) *lookoutv1.Monitor {
	return &lookoutv1.Monitor{Id: "mon-1", Name: "test-monitor", Timeout: durationpb.New(20 * time.Second), Steps: steps}
}

func runMonitor(t *testing.T, r *Runner, m *lookoutv1.Monitor, s *Secrets) *lookoutv1.RunResult {
	t.Helper()
	return r.Run(t.Context(), &lookoutv1.RunRequest{RunId: "run-1", Attempt: 1, CheckpointId: "cp-1", Monitor: m}, s)
}

// stepBrief is the part of a step result most tests compare.
type stepBrief struct {
	Name     string
	Passed   bool
	Skipped  bool
	Status   int32
	Class    lookoutv1.ErrorClass
	Error    string
	Attempts int32
}

func briefs(res *lookoutv1.RunResult) []stepBrief {
	var out []stepBrief
	for _, s := range res.GetSteps() {
		out = append(out, stepBrief{
			Name: s.GetName(), Passed: s.GetPassed(), Skipped: s.GetSkipped(), Status: s.GetStatusCode(),
			Class: s.GetErrorClass(), Error: s.GetError(), Attempts: s.GetAttempts(),
		})
	}
	return out
}

// quietLog silences servers' expected TLS handshake errors.
func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }
