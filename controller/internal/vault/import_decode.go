package vault

import (
	"crypto/x509"
	"errors"
	"fmt"
	"runtime"
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

// decodeWithBudget runs go-pkcs12 in a decode slot, waiting at most lim.slotWait for one (then
// ErrBusy: transient), and gives up once the decode has used lim.budget of CPU time. The budget
// counts the decode's own thread's CPU time, not the wall clock: on a loaded machine an ordinary
// archive takes longer but costs the same, and must not be blamed for the load.
func decodeWithBudget(der []byte, password string, lim limits) (any, []*x509.Certificate, error) {
	if !acquireDecodeSlot(lim.slotWait) {
		return nil, nil, ErrBusy
	}
	done := make(chan decoded, 1)
	clock := make(chan func() (time.Duration, bool), 1)
	go func(der []byte) {
		defer func() { <-decodeSlots }()
		runtime.LockOSThread() // the CPU clock read is this thread's
		defer runtime.UnlockOSThread()
		clock <- threadCPUClock()
		done <- decodeChain(der, password)
	}(slices.Clone(der))
	r, over := awaitDecode(done, <-clock, lim.budget)
	switch {
	case over:
		return nil, nil, inputError(fmt.Sprintf("archive needs more than %s of CPU time to decode: re-export it with fewer key-derivation iterations", lim.budget))
	case r.err != nil:
		return nil, nil, decodeError(r.err, der, password)
	}
	return r.key, r.certificates, nil
}

// awaitDecode waits for the decode and checks, a twentieth of the budget apart (1 ms to 100 ms),
// the CPU time it has used; over says it used more than budget. Without a per-thread CPU clock
// (cpu nil) the wall-clock time since the decode started counts instead.
func awaitDecode(done <-chan decoded, cpu func() (time.Duration, bool), budget time.Duration) (r decoded, over bool) {
	if cpu == nil {
		start := time.Now()
		cpu = func() (time.Duration, bool) { return time.Since(start), true }
	}
	tick := time.NewTicker(min(max(budget/20, time.Millisecond), 100*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case r := <-done:
			return r, false
		case <-tick.C:
			if used, ok := cpu(); ok && used > budget {
				return decoded{}, true
			}
		}
	}
}

func acquireDecodeSlot(wait time.Duration) bool {
	select {
	case decodeSlots <- struct{}{}:
		return true
	default:
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case decodeSlots <- struct{}{}:
		return true
	case <-timer.C:
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
