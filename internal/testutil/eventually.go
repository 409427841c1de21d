package testutil

import (
	"testing"
	"time"
)

// pollEvery is how often Eventually and EventuallyValue try their condition again.
const pollEvery = 50 * time.Millisecond

// Eventually polls cond every 50 ms until it holds, and fails the test when it still does not
// after timeout. Tests wait for a condition with it instead of sleeping and then asserting.
func Eventually(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", timeout, what)
		}
		time.Sleep(pollEvery)
	}
}

// EventuallyValue polls try every 50 ms until it returns a nil error, and returns the value it
// returned with it. When try still fails after timeout the test fails, naming what it waited for
// and try's last error, so the message says how far the wait got ("2 of 3 runs stored").
func EventuallyValue[T any](t testing.TB, what string, timeout time.Duration, try func() (T, error)) T {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v, err := try()
		if err == nil {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s: %v", timeout, what, err)
		}
		time.Sleep(pollEvery)
	}
}
