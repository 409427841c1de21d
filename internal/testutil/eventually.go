package testutil

import (
	"testing"
	"time"
)

// Eventually polls cond every 50 ms until it holds, and fails the test when it still does not
// after timeout. Tests wait for a condition with it instead of sleeping and then asserting.
func Eventually(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
