package vault

import (
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// decodeSlots bounds the decodes running at once, abandoned ones included: a decode that outlives
// its budget cannot be stopped, so it keeps its slot until it ends.
var decodeSlots = make(chan struct{}, 2)

type decoded struct {
	key          any
	certificates []*x509.Certificate
	err          error
}

// decodeWithBudget runs go-pkcs12 and gives up after budget, counting the wait for a slot.
func decodeWithBudget(der []byte, password string, budget time.Duration) (any, []*x509.Certificate, error) {
	timer := time.NewTimer(budget)
	defer timer.Stop()
	if !acquireDecodeSlot(timer.C) {
		return nil, nil, ErrBusy
	}
	done := make(chan decoded, 1)
	go func(der []byte) {
		defer func() { <-decodeSlots }()
		done <- decodeChain(der, password)
	}(slices.Clone(der))
	select {
	case r := <-done:
		if r.err != nil {
			return nil, nil, decodeError(r.err, der, password)
		}
		return r.key, r.certificates, nil
	case <-timer.C:
		return nil, nil, inputError(fmt.Sprintf("archive took longer than %s to decode: re-export it with fewer key-derivation iterations", budget))
	}
}

func acquireDecodeSlot(deadline <-chan time.Time) bool {
	select {
	case decodeSlots <- struct{}{}:
		return true
	default:
	}
	select {
	case decodeSlots <- struct{}{}:
		return true
	case <-deadline:
		return false
	}
}

// decodeChain calls go-pkcs12, turning a panic on hostile input into an error.
func decodeChain(der []byte, password string) (d decoded) {
	defer func() {
		if r := recover(); r != nil {
			d = decoded{err: fmt.Errorf("decoder failed on malformed input (%T)", r)}
		}
	}()
	key, leaf, cas, err := pkcs12.DecodeChain(der, password)
	if err != nil {
		return decoded{err: err}
	}
	return decoded{key: key, certificates: append([]*x509.Certificate{leaf}, cas...)}
}

// decodeError turns a go-pkcs12 error into a message in the user's terms.
func decodeError(err error, der []byte, password string) *InputError {
	msg := err.Error()
	var notImplemented pkcs12.NotImplementedError
	switch {
	case isCertificate(der):
		return inputError("file is a certificate without its private key, not a PKCS#12 archive: export the certificate together with its key")
	case isWrongPassword(err):
		return wrongPassword(password)
	case strings.Contains(msg, "cannot be encoded in UCS-2"):
		return inputError("the password has characters PKCS#12 cannot encode (it allows only UCS-2, so no emoji or other " +
			"characters outside the Basic Multilingual Plane): re-export the archive with a different password")
	case strings.Contains(msg, "no MAC in data"):
		return inputError("archive has no integrity check (MAC); re-export it with one (openssl pkcs12 -export without -nomac)")
	case strings.Contains(msg, "private key missing"):
		return inputError("archive holds no private key: export the certificate together with its key")
	case strings.Contains(msg, "certificate missing"):
		return inputError("archive holds no certificate: export the certificate together with its key")
	case strings.Contains(msg, "expected exactly one key bag"):
		return inputError("archive holds more than one private key: export only the client certificate with its key")
	case strings.Contains(msg, "indefinite length"):
		return errBER
	case errors.As(err, &notImplemented), strings.Contains(msg, "supported"), strings.Contains(msg, "unknown algorithm"):
		return inputError("archive uses an unsupported algorithm" + detail(msg, password) +
			": re-export it with `openssl pkcs12 -export` (AES-256-CBC, SHA-256 MAC)")
	}
	return inputError("file is not a readable PKCS#12 archive" + detail(msg, password))
}

func isWrongPassword(err error) bool {
	msg := err.Error()
	return errors.Is(err, pkcs12.ErrIncorrectPassword) || errors.Is(err, pkcs12.ErrDecryption) ||
		strings.Contains(msg, pkcs12.ErrDecryption.Error()) ||
		strings.Contains(msg, "error unmarshaling decrypted private key")
}

func wrongPassword(password string) *InputError {
	msg := "archive password is incorrect"
	if password == "" {
		msg += " (no password was given)"
	}
	return &InputError{Msg: msg, Kind: ErrWrongPassword}
}

func isCertificate(der []byte) bool {
	_, err := x509.ParseCertificate(der)
	return err == nil
}

// detail renders a library message as ": …", or nothing when it would reveal the password.
func detail(msg, password string) string {
	msg = strings.ReplaceAll(msg, "pkcs12: ", "")
	if msg == "" || (password != "" && strings.Contains(msg, password)) {
		return ""
	}
	return ": " + msg
}
