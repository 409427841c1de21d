package runner

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// infoOf is how a step's error names a certificate: subject and SHA-256 fingerprint.
func infoOf(c *tls.Certificate) string {
	i := info(c)
	return i.GetSubject() + ", SHA-256 " + i.GetSha256Fingerprint()
}

// hangUpAfterHandshake accepts TLS connections, completes the handshake (asking for any client
// certificate) and resets the connection without reading the request, as some servers and proxies
// do with a client certificate they refuse.
func hangUpAfterHandshake(t *testing.T, ca *testCA) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{*ca.issue(t, "target", true)}, ClientAuth: tls.RequireAnyClientCert}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			tc := tls.Server(c, conf)
			_ = tc.Handshake()
			c.(*net.TCPConn).SetLinger(0) // a reset, not a clean close
			c.Close()
		}
	}()
	t.Cleanup(func() { lis.Close(); <-done })
	return "https://" + lis.Addr().String() + "/"
}

// TestRejectedClientCertificateIsNamed (issue 19): a server that refuses the client certificate,
// with an alert or by hanging up right after the handshake, is reported as refusing it, naming the
// certificate presented (source, subject, fingerprint) and never as a bare connection reset.
func TestRejectedClientCertificateIsNamed(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	partner := ca.issue(t, "partner-client", false)
	refusing := newTLSServer(t, ca, true, echoClientCN, func(srv *httptest.Server) {
		srv.TLS.VerifyConnection = func(tls.ConnectionState) error { return errRefused }
	})
	for name, tc := range map[string]struct {
		url  string
		want []string
	}{
		"bad_certificate alert": {refusing.URL, []string{"TLS handshake failed: the server rejected the client certificate (bad certificate)"}},
		"reset after the handshake": {hangUpAfterHandshake(t, ca), []string{
			"the server closed the connection right after the TLS handshake, which is how some servers reject a client certificate"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			step := get("orders", tc.url)
			step.Request.ClientCertificate = &lookoutv1.ClientCertificate{Source: lookoutv1.CertificateSource_CERTIFICATE_SOURCE_VAULT, Item: "partner-cert"}
			res := runMonitor(t, New(Options{RootCAs: ca.pool}), monitor(step), &Secrets{Certificates: map[string]*tls.Certificate{"partner-cert": partner}})
			got := res.GetSteps()[0]
			want := append(tc.want, `the step presented vault item "partner-cert" (subject `+infoOf(partner)+")")
			for _, w := range want {
				if !strings.Contains(got.GetError(), w) {
					t.Errorf("step error %q does not say %q", got.GetError(), w)
				}
			}
			if got.GetErrorClass() != lookoutv1.ErrorClass_ERROR_CLASS_TLS || strings.Contains(got.GetError(), "connection reset by peer") {
				t.Errorf("step error: %v %q, want a TLS error about the certificate", got.GetErrorClass(), got.GetError())
			}
		})
	}
}

var errRefused = errors.New("this client certificate is not allowed here")
