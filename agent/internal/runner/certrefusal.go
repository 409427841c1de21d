package runner

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// certRefusalAlerts are the TLS alerts with which a server refuses the client certificate it was
// shown, or the lack of one.
var certRefusalAlerts = map[string]bool{
	"tls: bad certificate": true, "tls: certificate required": true, "tls: unknown certificate authority": true,
	"tls: expired certificate": true, "tls: revoked certificate": true, "tls: unsupported certificate": true,
	"tls: unknown certificate": true, "tls: access denied": true,
}

// classifyExchange classifies a failed request like classifyTransport, except that a server
// refusing the client certificate is reported as such, naming the certificate the step presented:
// a refusal alert, or (servers and proxies that check the certificate after a TLS 1.3 handshake
// and just hang up) the connection reset or closed right after a handshake it completed.
func classifyExchange(err error, tl *timeline, id identity) error {
	if alert, ok := certAlert(err); ok {
		return failf(lookoutv1.ErrorClass_ERROR_CLASS_TLS, "TLS handshake failed: %s; %s", alertReason(alert), presented(id))
	}
	if tl.handshook() && hungUp(err) {
		return failf(lookoutv1.ErrorClass_ERROR_CLASS_TLS,
			"the server closed the connection right after the TLS handshake, which is how some servers reject a client certificate; %s", presented(id))
	}
	return classifyTransport(err)
}

// certAlert is the text of a client-certificate refusal alert err carries.
func certAlert(err error) (string, bool) {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" && certRefusalAlerts[op.Err.Error()] {
		return op.Err.Error(), true
	}
	return "", false
}

// hungUp says whether err is the peer resetting or closing the connection.
func hungUp(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// presented names the client certificate a step presented, by its source and public facts only.
func presented(id identity) string {
	if id.cert == nil || id.info == nil {
		return "the step presents no client certificate (set client_certificate to a vault item or platform)"
	}
	source := "the platform certificate"
	if item, ok := strings.CutPrefix(id.key, "vault:"); ok {
		source = fmt.Sprintf("vault item %q", item)
	}
	return fmt.Sprintf("the step presented %s (subject %s, SHA-256 %s)", source, id.info.GetSubject(), id.info.GetSha256Fingerprint())
}
