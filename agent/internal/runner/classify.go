package runner

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/url"
	"strings"
	"syscall"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// classifyTransport turns an error from sending a request or reading its
// body into a classified step error with a readable message.
func classifyTransport(err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return failf(lookoutv1.ErrorClass_ERROR_CLASS_TIMEOUT, "request timed out")
	case errors.Is(err, context.Canceled):
		return failf(lookoutv1.ErrorClass_ERROR_CLASS_INTERNAL, "the run was canceled")
	case errors.Is(err, errTooManyRedirects):
		return failf(lookoutv1.ErrorClass_ERROR_CLASS_HTTP, "stopped after %d redirects", maxRedirects)
	case strings.Contains(err.Error(), "server response headers exceeded"):
		return failf(lookoutv1.ErrorClass_ERROR_CLASS_HTTP, "the response headers exceed the limit of %d MiB", maxHeaderBytes>>20)
	}
	if e := classifyNetwork(err); e != nil {
		return e
	}
	if reason, ok := tlsReason(err); ok {
		return failf(lookoutv1.ErrorClass_ERROR_CLASS_TLS, "TLS handshake failed: %s", reason)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return failf(lookoutv1.ErrorClass_ERROR_CLASS_TIMEOUT, "request timed out: %v", innermost(err))
	}
	return failf(lookoutv1.ErrorClass_ERROR_CLASS_HTTP, "request failed: %v", innermost(err))
}

// classifyNetwork recognises name resolution and connection failures.
func classifyNetwork(err error) error {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return failf(lookoutv1.ErrorClass_ERROR_CLASS_DNS, "could not resolve host %q: %s", dnsErr.Name, dnsErr.Err)
	}
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		return nil
	}
	reason := op.Err.Error()
	var errno syscall.Errno
	if errors.As(err, &errno) {
		reason = errno.Error()
	}
	if op.Addr != nil {
		return failf(lookoutv1.ErrorClass_ERROR_CLASS_CONNECT, "could not connect to %s: %s", op.Addr, reason)
	}
	return failf(lookoutv1.ErrorClass_ERROR_CLASS_CONNECT, "could not connect: %s", reason)
}

// innermost strips the url.Error wrapper, whose text repeats method and URL.
func innermost(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// alertReasons explains TLS alerts received from the server. With TLS 1.3 the
// server checks the client certificate after the client considers the
// handshake done, so these often surface on the first read.
var alertReasons = map[string]string{
	"tls: certificate required":           "the server requires a client certificate",
	"tls: bad certificate":                "the server rejected the client certificate (bad certificate)",
	"tls: unknown certificate authority":  "the server does not trust the issuer of the client certificate",
	"tls: expired certificate":            "the server says the client certificate has expired",
	"tls: revoked certificate":            "the server says the client certificate was revoked",
	"tls: unsupported certificate":        "the server does not accept this kind of client certificate",
	"tls: unknown certificate":            "the server could not verify the client certificate",
	"tls: access denied":                  "the server denied access to this client certificate",
	"tls: protocol version not supported": "the server supports none of the offered TLS versions",
	"tls: no application protocol":        "the server speaks none of the offered application protocols (is http_version right?)",
	"tls: handshake failure": "the server refused the handshake (it may require a client certificate, " +
		"or support none of the offered TLS versions and ciphers)",
}

// tlsReason explains a TLS failure, or reports false when err is not one.
func tlsReason(err error) (string, bool) {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" {
		return alertReason(op.Err.Error()), true
	}
	var alertErr tls.AlertError
	if errors.As(err, &alertErr) {
		return alertReason(alertErr.Error()), true
	}
	if reason, ok := serverCertReason(err); ok {
		return reason, true
	}
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) {
		return "the server did not answer with TLS", true
	}
	if msg := innermost(err).Error(); strings.Contains(msg, "tls: ") {
		return msg, true
	}
	return "", false
}

func alertReason(text string) string {
	if reason, ok := alertReasons[text]; ok {
		return reason
	}
	return "the server sent the alert " + strings.TrimPrefix(text, "tls: ")
}

// serverCertReason explains why the server's certificate was not accepted.
func serverCertReason(err error) (string, bool) {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown):
		return "the server's certificate is signed by an unknown authority " +
			"(trust its CA or set ignore_certificate_errors)", true
	case errors.As(err, &host):
		return "the server's certificate is not valid for " + host.Host, true
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return "the server's certificate has expired or is not yet valid", true
	case errors.As(err, &invalid):
		return "the server's certificate is invalid: " + invalid.Error(), true
	}
	var verr *tls.CertificateVerificationError
	if errors.As(err, &verr) {
		return "the server's certificate could not be verified: " + verr.Err.Error(), true
	}
	return "", false
}
