package runner

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// issueForName signs a server certificate for one DNS name only.
func (ca *testCA) issueForName(t *testing.T, name string) tls.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

var tlsVersionNames = map[uint16]string{tls.VersionTLS12: "1.2", tls.VersionTLS13: "1.3"}

// echoTLS answers with the negotiated TLS version and HTTP protocol.
var echoTLS = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	v := "none"
	if r.TLS != nil {
		v = tlsVersionNames[r.TLS.Version]
	}
	fmt.Fprintf(w, "%s %s", v, r.Proto)
})

func TestTLSOptions(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	named := ca.issueForName(t, "api.internal.test")
	sniSrv := newTLSServer(t, ca, false, echoTLS, func(s *httptest.Server) {
		s.TLS.Certificates = []tls.Certificate{ca.issueForName(t, "default.test")}
		s.TLS.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if hello.ServerName != "api.internal.test" {
				return nil, nil // the default certificate
			}
			return &named, nil
		}
	})
	tls12 := newTLSServer(t, ca, false, echoTLS, func(s *httptest.Server) { s.TLS.MaxVersion = tls.VersionTLS12 })
	h2 := newTLSServer(t, ca, false, echoTLS, func(s *httptest.Server) { s.EnableHTTP2 = true })
	h2c := httptest.NewUnstartedServer(echoTLS)
	h2c.Config.Protocols = new(http.Protocols)
	h2c.Config.Protocols.SetHTTP1(true)
	h2c.Config.Protocols.SetUnencryptedHTTP2(true)
	h2c.Start()
	t.Cleanup(h2c.Close)

	const (
		v12    = lookoutv1.TlsVersion_TLS_VERSION_1_2
		v13    = lookoutv1.TlsVersion_TLS_VERSION_1_3
		http11 = lookoutv1.HttpVersion_HTTP_VERSION_1_1
		http2  = lookoutv1.HttpVersion_HTTP_VERSION_2
	)
	tests := map[string]struct {
		url     string
		tls     *lookoutv1.TlsOptions
		version lookoutv1.HttpVersion
		body    string
		want    stepBrief
	}{
		"server name sent and verified": {url: sniSrv.URL, tls: &lookoutv1.TlsOptions{ServerName: "api.internal.test"},
			body: "1.3 HTTP/1.1", want: stepBrief{Passed: true, Status: 200}},
		"without the server name": {url: sniSrv.URL, want: stepBrief{Class: lookoutv1.ErrorClass_ERROR_CLASS_TLS,
			Error: "TLS handshake failed: the server's certificate is not valid for 127.0.0.1"}},
		"max 1.2": {url: h2.URL, tls: &lookoutv1.TlsOptions{MaxVersion: v12}, body: "1.2 HTTP/2.0", want: stepBrief{Passed: true, Status: 200}},
		"min 1.3 against a 1.2 server": {url: tls12.URL, tls: &lookoutv1.TlsOptions{MinVersion: v13},
			want: stepBrief{Class: lookoutv1.ErrorClass_ERROR_CLASS_TLS,
				Error: "TLS handshake failed: the server supports none of the offered TLS versions"}},
		"auto over TLS is HTTP/2": {url: h2.URL, body: "1.3 HTTP/2.0", want: stepBrief{Passed: true, Status: 200}},
		"HTTP/1.1 forced":         {url: h2.URL, version: http11, body: "1.3 HTTP/1.1", want: stepBrief{Passed: true, Status: 200}},
		"HTTP/2 over TLS":         {url: h2.URL, version: http2, body: "1.3 HTTP/2.0", want: stepBrief{Passed: true, Status: 200}},
		"auto over http is 1.1":   {url: h2c.URL, body: "none HTTP/1.1", want: stepBrief{Passed: true, Status: 200}},
		"HTTP/2 prior knowledge":  {url: h2c.URL, version: http2, body: "none HTTP/2.0", want: stepBrief{Passed: true, Status: 200}},
		"HTTP/2 against a 1.1-only server": {url: tls12.URL, version: http2, want: stepBrief{Class: lookoutv1.ErrorClass_ERROR_CLASS_TLS,
			Error: "TLS handshake failed: the server speaks none of the offered application protocols (is http_version right?)"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			step := get("s", tt.url)
			step.Request.Tls, step.Request.HttpVersion = tt.tls, tt.version
			res := runMonitor(t, New(Options{RootCAs: ca.pool}), monitor(step), nil)
			tt.want.Name, tt.want.Attempts = "s", 1
			if diff := cmp.Diff(briefs(res), []stepBrief{tt.want}); diff != "" {
				t.Errorf("steps (-got +want):\n%s", diff)
			}
			if got := res.GetSteps()[0].GetBodyExcerpt(); got != tt.body {
				t.Errorf("body = %q, want %q", got, tt.body)
			}
		})
	}
}
