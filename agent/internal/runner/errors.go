package runner

import (
	"errors"
	"fmt"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// stepError is a step failure with its class and a readable one-line message.
type stepError struct {
	class lookoutv1.ErrorClass
	msg   string
	phase string // for transport failures: where the exchange stopped, "during the TLS handshake"
}

func (e *stepError) Error() string { return e.msg }

func failf(class lookoutv1.ErrorClass, format string, args ...any) error {
	return &stepError{class: class, msg: fmt.Sprintf(format, args...)}
}

// withPhase records where the exchange stopped, for timeout messages.
func withPhase(err error, phase string) error {
	var se *stepError
	if errors.As(err, &se) && se.phase == "" {
		se.phase = phase
		if se.class == lookoutv1.ErrorClass_ERROR_CLASS_TIMEOUT {
			se.msg += " " + phase
		}
	}
	return err
}

// phaseOf returns where a failed exchange stopped, or a general phrase.
func phaseOf(err error) string {
	var se *stepError
	if errors.As(err, &se) && se.phase != "" {
		return se.phase
	}
	return phaseWaiting
}

// classOf returns the class and message of err; unclassified errors are INTERNAL.
func classOf(err error) (lookoutv1.ErrorClass, string) {
	var se *stepError
	if errors.As(err, &se) {
		return se.class, se.msg
	}
	return lookoutv1.ErrorClass_ERROR_CLASS_INTERNAL, err.Error()
}

// retryable reports whether trying the step again could change the outcome:
// configuration problems (variables, secrets, policy) do not go away by waiting.
func retryable(err error) bool {
	switch class, _ := classOf(err); class {
	case lookoutv1.ErrorClass_ERROR_CLASS_VARIABLE,
		lookoutv1.ErrorClass_ERROR_CLASS_SECRET,
		lookoutv1.ErrorClass_ERROR_CLASS_POLICY:
		return false
	}
	return true
}
