package testutil

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fatalRecorder is a testing.TB whose Fatalf records the message and ends the calling
// goroutine, as the real one does, without failing the test that uses it.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls f with a recorder on its own goroutine (Fatalf ends it) and returns what it recorded.
func (r *fatalRecorder) run(f func(tb testing.TB)) string {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.msg
}

// TestEventuallyReturnsOnceTheConditionHolds: the condition is tried again until it holds; the
// test does not fail.
func TestEventuallyReturnsOnceTheConditionHolds(t *testing.T) {
	t.Parallel()
	tries := 0
	msg := (&fatalRecorder{TB: t}).run(func(tb testing.TB) {
		Eventually(tb, "the third try", 10*time.Second, func() bool { tries++; return tries == 3 })
	})
	if msg != "" || tries != 3 {
		t.Errorf("Eventually failed with %q after %d tries; want no failure after 3", msg, tries)
	}
}

// TestEventuallyFailsNamingTheWait: a condition that never holds fails the test with what it
// waited for and for how long.
func TestEventuallyFailsNamingTheWait(t *testing.T) {
	t.Parallel()
	msg := (&fatalRecorder{TB: t}).run(func(tb testing.TB) {
		Eventually(tb, "the moon to turn blue", 100*time.Millisecond, func() bool { return false })
		panic("Eventually returned although the condition never held")
	})
	if want := "waited 100ms for the moon to turn blue"; msg != want {
		t.Errorf("Eventually failed with %q, want %q", msg, want)
	}
}

// TestEventuallyValueReturnsTheValue: the value that came with the first nil error is returned.
func TestEventuallyValueReturnsTheValue(t *testing.T) {
	t.Parallel()
	tries := 0
	var got int
	msg := (&fatalRecorder{TB: t}).run(func(tb testing.TB) {
		got = EventuallyValue(tb, "two tries", 10*time.Second, func() (int, error) {
			tries++
			if tries < 2 {
				return -1, fmt.Errorf("try %d", tries)
			}
			return 42, nil
		})
	})
	if msg != "" || got != 42 || tries != 2 {
		t.Errorf("EventuallyValue: failure %q, value %d after %d tries; want no failure, 42 after 2", msg, got, tries)
	}
}

// TestEventuallyValueFailsWithTheLastReason: the failure names the wait and try's last error.
func TestEventuallyValueFailsWithTheLastReason(t *testing.T) {
	t.Parallel()
	tries := 0
	msg := (&fatalRecorder{TB: t}).run(func(tb testing.TB) {
		EventuallyValue(tb, "all runs stored", 100*time.Millisecond, func() (int, error) {
			tries++
			return 0, fmt.Errorf("%d of 3 stored (try %d)", min(tries, 2), tries)
		})
		panic("EventuallyValue returned although try never succeeded")
	})
	if want := "waited 100ms for all runs stored: 2 of 3 stored (try "; !strings.HasPrefix(msg, want) || tries < 2 {
		t.Errorf("EventuallyValue failed with %q after %d tries, want %q… after at least 2", msg, tries, want)
	}
}
