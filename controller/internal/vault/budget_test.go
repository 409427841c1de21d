package vault

import (
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// A decode whose thread is kept off the CPU (a loaded machine) is not over its budget however
// long it takes by the clock; one that has used more CPU time than the budget is.
func TestDecodeBudgetCountsCPUTimeNotTheClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		done := make(chan decoded, 1)
		go func() {
			time.Sleep(time.Minute) // six budgets by the clock, a millisecond of CPU
			done <- decoded{}
		}()
		if _, over := awaitDecode(done, func() (time.Duration, bool) { return time.Millisecond, true }, 10*time.Second); over {
			t.Error("a decode that used 1ms of CPU in a minute was stopped as over a 10s budget")
		}
		busy := make(chan decoded)
		if _, over := awaitDecode(busy, func() (time.Duration, bool) { return 11 * time.Second, true }, 10*time.Second); !over {
			t.Error("a decode that used 11s of CPU was not stopped by a 10s budget")
		}
	})
}

// Waiting for a decode slot is not part of the decode's budget: an upload that waited behind
// other decodes longer than the budget still gets the whole budget for its own decode. Not
// parallel: it holds every slot (the slots are the package's, outside any synctest bubble).
func TestWaitingForASlotDoesNotSpendTheBudget(t *testing.T) {
	archive := encodeChain(t, pkcs12.Modern2023.WithIterations(2048), newChain(t, "p256"), testPassword)
	for range cap(decodeSlots) {
		decodeSlots <- struct{}{}
	}
	lim := defaultLimits
	lim.budget, lim.slotWait = 50*time.Millisecond, time.Minute
	release := time.AfterFunc(4*lim.budget, func() { // the other decodes end
		for range cap(decodeSlots) {
			<-decodeSlots
		}
	})
	defer release.Stop()
	if _, err := importWith(archive, testPassword, time.Now(), lim); err != nil {
		t.Errorf("import after waiting four budgets for a slot: %v", err)
	}
}

// A decode's CPU clock starts at zero on a thread that already ran other work: the thread comes
// from the runtime's pool, and what it did before is not the decode's.
func TestThreadCPUClockCountsFromItsStart(t *testing.T) {
	if threadCPUClock() == nil {
		t.Skip("no per-thread CPU clock on this system: the budget counts wall-clock time")
	}
	got := make(chan time.Duration, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		before := threadCPUClock()
		for used, ok := before(); ok && used < 100*time.Millisecond; used, ok = before() {
		}
		used, _ := threadCPUClock()()
		got <- used
	}()
	if used := <-got; used >= 100*time.Millisecond {
		t.Errorf("a new clock on a thread that used 100ms of CPU reads %v, want it to start from zero", used)
	}
}
