package runner

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

func TestClassifyTransport(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error { return &url.Error{Op: "Get", URL: "https://example.test/", Err: err} }
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
	tests := map[string]struct {
		err       error
		wantClass lookoutv1.ErrorClass
		wantMsg   string
	}{
		"DNS": {wrap(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "nope.test", IsNotFound: true}}),
			lookoutv1.ErrorClass_ERROR_CLASS_DNS, `could not resolve host "nope.test": no such host`},
		"refused": {wrap(&net.OpError{Op: "dial", Net: "tcp", Addr: addr, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}),
			lookoutv1.ErrorClass_ERROR_CLASS_CONNECT, "could not connect to 127.0.0.1:9: connection refused"},
		"deadline": {wrap(context.DeadlineExceeded), lookoutv1.ErrorClass_ERROR_CLASS_TIMEOUT, "request timed out"},
		"canceled": {wrap(context.Canceled), lookoutv1.ErrorClass_ERROR_CLASS_INTERNAL, "the run was canceled"},
		"unknown authority": {wrap(x509.UnknownAuthorityError{}), lookoutv1.ErrorClass_ERROR_CLASS_TLS,
			"TLS handshake failed: the server's certificate is signed by an unknown authority (trust its CA or set ignore_certificate_errors)"},
		"wrong host": {wrap(x509.HostnameError{Certificate: &x509.Certificate{}, Host: "example.test"}), lookoutv1.ErrorClass_ERROR_CLASS_TLS,
			"TLS handshake failed: the server's certificate is not valid for example.test"},
		"expired": {wrap(x509.CertificateInvalidError{Reason: x509.Expired}), lookoutv1.ErrorClass_ERROR_CLASS_TLS,
			"TLS handshake failed: the server's certificate has expired or is not yet valid"},
		"other": {wrap(errors.New("net/http: HTTP/1.x transport connection broken: malformed HTTP response")),
			lookoutv1.ErrorClass_ERROR_CLASS_HTTP, "request failed: net/http: HTTP/1.x transport connection broken: malformed HTTP response"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			class, msg := classOf(classifyTransport(tt.err))
			if diff := cmp.Diff([]any{class, msg}, []any{tt.wantClass, tt.wantMsg}); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}
}
