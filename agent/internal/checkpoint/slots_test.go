package checkpoint

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestSlotsWaitAndReportSaturation: with every slot busy a run waits for one and starts when one
// frees; one whose deadline passes first does not start; both make the agent report itself
// saturated, once per heartbeat, and stop doing so when no run waits.
func TestSlotsWaitAndReportSaturation(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newSlots(1)
		if !s.acquire(t.Context(), time.Now().Add(time.Minute)) || s.saturated() {
			t.Fatal("the first run did not get the free slot at once, or the agent reports saturation")
		}
		got := make(chan bool, 1)
		go func() { got <- s.acquire(t.Context(), time.Now().Add(time.Minute)) }()
		synctest.Wait()
		if st := s.stats(); st.Waiting != 1 || st.InFlight != 1 || !s.saturated() {
			t.Fatalf("with the only slot busy: %+v, saturated=false; want 1 waiting, 1 in flight, saturated", st)
		}
		time.Sleep(3 * time.Second)
		s.release()
		if !<-got {
			t.Fatal("the waiting run did not get the slot once it was released")
		}
		if st := s.stats(); st.Delayed != 1 || st.Waited != 3*time.Second || st.Waiting != 0 {
			t.Errorf("after one run waited 3s: %+v", st)
		}
		if !s.saturated() {
			t.Error("a heartbeat after a run waited (and got its slot) does not report saturation")
		}
		if s.saturated() {
			t.Error("the next heartbeat, with no run waiting since, still reports saturation")
		}
		if s.acquire(t.Context(), time.Now().Add(2*time.Second)) {
			t.Fatal("a run got a slot while the only one is busy")
		}
		if st := s.stats(); st.Expired != 1 || st.Delayed != 2 || !s.saturated() {
			t.Errorf("after a run's deadline passed while it waited: %+v; want 1 expired, 2 delayed, saturated", st)
		}
	})
}
