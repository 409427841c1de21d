package scheduler

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

func names(ms []*pb.Monitor) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	slices.Sort(out)
	return out
}

func monitor(id string, interval time.Duration) *pb.Monitor {
	return &pb.Monitor{Id: id, Name: id, Interval: durationpb.New(interval)}
}

// clock is a settable time for the scheduler under test.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

// TestRunsOncePerIntervalOnItsSlot: after its first run a monitor runs once per interval, at
// the same offset within it; a long stall runs it once, not once per missed interval.
func TestRunsOncePerIntervalOnItsSlot(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := New(Options{Now: c.now})
	s.Upsert(monitor("a", 10*time.Second))
	if got := names(s.due(c.t)); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("a newly applied monitor is not due at once: %v", got)
	}
	var runs []time.Time
	for step := time.Duration(0); step < 65*time.Second; step += 10 * time.Millisecond {
		c.t = c.t.Add(10 * time.Millisecond)
		if len(s.due(c.t)) > 0 {
			runs = append(runs, c.t)
		}
	}
	if len(runs) != 6 {
		t.Fatalf("over 65 s a 10 s monitor ran %d times after its first run, want 6: %v", len(runs), runs)
	}
	for i := 1; i < len(runs); i++ {
		if d := runs[i].Sub(runs[i-1]); d != 10*time.Second {
			t.Errorf("runs %d and %d are %v apart, want 10s", i-1, i, d)
		}
	}
	c.t = c.t.Add(10 * time.Minute)
	if got := s.due(c.t); len(got) != 1 {
		t.Errorf("after a 10-minute stall %d runs are due, want 1", len(got))
	}
	if got := s.due(c.t.Add(time.Second)); len(got) != 0 {
		t.Errorf("a second run is due 1 s after the catch-up run: %v", names(got))
	}
}

// TestSlotsSpreadMonitors: 2,000 monitors loaded at once (a controller start) neither run at
// once nor bunch up: each runs once in the next interval, and every second of it carries about a
// tenth of them.
func TestSlotsSpreadMonitors(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := New(Options{Now: c.now})
	var ms []*pb.Monitor
	for i := range 2000 {
		ms = append(ms, monitor(fmt.Sprintf("mon_%05d", i), 10*time.Second))
	}
	s.Sync(ms)
	if got := s.due(c.t); len(got) > 0 {
		t.Fatalf("%d monitors are due the moment the controller starts, want none (they go on their slots)", len(got))
	}
	perSecond := make([]int, 10)
	seen := map[string]int{}
	start := c.t
	for c.t.Before(start.Add(10 * time.Second)) {
		c.t = c.t.Add(10 * time.Millisecond)
		for _, m := range s.due(c.t) {
			seen[m.Id]++
			perSecond[int(c.t.Sub(start).Seconds())%10]++
		}
	}
	if len(seen) != len(ms) {
		t.Errorf("%d of %d monitors ran in the first interval", len(seen), len(ms))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s ran %d times in one interval", id, n)
		}
	}
	for sec, n := range perSecond {
		if n < 140 || n > 260 { // 200 expected; binomial spread is ±13
			t.Errorf("second %d of the interval carried %d runs, want about 200: %v", sec, n, perSecond)
			break
		}
	}
}

// TestUpsert: an update does for one monitor what Sync would and leaves the others alone: a new
// monitor is due now, a changed one keeps its next time within its new interval, a paused one
// leaves the schedule, and a resumed one comes back on its slot rather than at once.
func TestUpsert(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := New(Options{Now: c.now})
	s.Upsert(monitor("a", time.Hour))
	b := monitor("b", time.Hour)
	s.Upsert(b)
	if got := names(s.due(c.t)); !slices.Equal(got, []string{"a", "b"}) || s.Len() != 2 {
		t.Fatalf("after applying a and b: due %v, Len %d; want both due and both kept", got, s.Len())
	}
	// a's interval shrinks to 10 s: its next run moves up from within the hour to within 10 s.
	s.Upsert(monitor("a", 10*time.Second))
	if got := names(s.due(c.t.Add(10 * time.Second))); !slices.Equal(got, []string{"a"}) {
		t.Errorf("after shrinking a's interval, due within 10s: %v", got)
	}
	paused := monitor("b", time.Hour)
	paused.Paused = true
	s.Upsert(paused)
	if s.Len() != 1 {
		t.Errorf("a paused monitor is still scheduled (Len %d)", s.Len())
	}
	if got := names(s.due(c.t.Add(2 * time.Hour))); slices.Contains(got, "b") {
		t.Errorf("paused b ran: %v", got)
	}
	c.t = c.t.Add(2 * time.Hour)
	s.Upsert(b)
	if s.Len() != 2 {
		t.Fatalf("a resumed monitor is not scheduled again (Len %d)", s.Len())
	}
	if got := names(s.due(c.t)); slices.Contains(got, "b") {
		t.Errorf("resumed b runs at once; it should wait for its slot")
	}
	if got := names(s.due(c.t.Add(time.Hour))); !slices.Contains(got, "b") {
		t.Errorf("resumed b did not run within its interval: %v", got)
	}
	s.Sync([]*pb.Monitor{monitor("a", 10*time.Second)})
	if s.Len() != 1 {
		t.Errorf("after a Sync without b, Len = %d, want 1", s.Len())
	}
}

// TestRunDispatchesInRounds: the loop hands over a newly applied monitor without waiting for a
// slot, and monitors applied together go out in one round.
func TestRunDispatchesInRounds(t *testing.T) {
	t.Parallel()
	rounds := make(chan []string, 16)
	s := New(Options{Tick: 500 * time.Millisecond, Dispatch: func(due []*pb.Monitor) { rounds <- names(due) }})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	// Several monitors added between two rounds share the next one; the first round may have
	// taken the first of them alone.
	for _, id := range []string{"a", "b", "c"} {
		s.Upsert(monitor(id, time.Hour))
	}
	var got []string
	n := 0
	deadline := time.After(10 * time.Second)
	for len(got) < 3 {
		select {
		case r := <-rounds:
			got = append(got, r...)
			n++
		case <-deadline:
			t.Fatalf("dispatched %v within 10 s, want a, b and c", got)
		}
	}
	slices.Sort(got)
	if diff := cmp.Diff([]string{"a", "b", "c"}, got); diff != "" {
		t.Errorf("dispatched (-want +got):\n%s", diff)
	}
	if n > 2 {
		t.Errorf("three monitors applied together took %d rounds, want at most 2", n)
	}
	select {
	case r := <-rounds:
		t.Errorf("a monitor with a 1 h interval was dispatched again: %v", r)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestRunWakesForChanges: an idle loop (nothing due within maxSleep) dispatches a newly applied
// monitor at once, and a monitor whose interval shrank at its new slot exactly, not at the end of
// its sleep. Fake time (synctest) makes "at once" exact.
func TestRunWakesForChanges(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		type round struct {
			at  time.Time
			ids []string
		}
		rounds := make(chan round, 16)
		s := New(Options{Dispatch: func(due []*pb.Monitor) { rounds <- round{time.Now(), names(due)} }})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go s.Run(ctx)

		time.Sleep(300 * time.Millisecond) // Run is idle, in a maxSleep wait
		applied := time.Now()
		s.Upsert(monitor("a", time.Hour))
		synctest.Wait()
		select {
		case r := <-rounds:
			if !r.at.Equal(applied) || !slices.Equal(r.ids, []string{"a"}) {
				t.Fatalf("round %v at +%v, want [a] at once", r.ids, r.at.Sub(applied))
			}
		default:
			t.Fatal("a newly applied monitor was not dispatched at once")
		}

		// With nothing due for an hour, Run sleeps a Tick then maxSleep, over and over: it wakes at
		// applied + k × (Tick + maxSleep). Shrink a's interval just after such a wake, at a moment
		// when a's new slot comes before the next one, so that only being woken gets it
		// dispatched on time.
		wakeAt := func(k int) time.Time { return applied.Add(time.Duration(k) * (10*time.Millisecond + maxSleep)) }
		var shrunk time.Time
		for k := 1; ; k++ {
			shrunk = wakeAt(k).Add(50 * time.Millisecond)
			if slotAfter(idHash("a"), 10*time.Second, shrunk).Before(wakeAt(k + 1)) {
				break
			}
		}
		time.Sleep(time.Until(shrunk))
		s.Upsert(monitor("a", 10*time.Second))
		want := slotAfter(idHash("a"), 10*time.Second, shrunk)
		time.Sleep(11 * time.Second)
		synctest.Wait()
		select {
		case r := <-rounds:
			if !r.at.Equal(want) {
				t.Errorf("after its interval shrank, a ran at %v, want its slot %v", r.at.Sub(shrunk), want.Sub(shrunk))
			}
		default:
			t.Error("after its interval shrank, a did not run within 10 s")
		}
	})
}

// TestNextRunKeepsHalfAnInterval: a monitor that ran off its slots (just applied) runs next no
// sooner than half an interval later and no later than one and a half, whatever its slot.
func TestNextRunKeepsHalfAnInterval(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := New(Options{Now: c.now})
	const iv = 10 * time.Second
	for i := range 200 {
		s.Upsert(monitor(fmt.Sprintf("mon_%03d", i), iv))
	}
	if n := len(s.due(c.t)); n != 200 {
		t.Fatalf("%d of 200 new monitors due at once", n)
	}
	for id, e := range s.entries {
		if gap := e.next.Sub(c.t); gap < iv/2 || gap > iv+iv/2 {
			t.Errorf("%s runs again %v after its first run, want between 5s and 15s", id, gap)
		}
	}
}

// TestQueueStaysConsistent: random applies, pauses, resumes, deletes and rounds keep the heap's
// indexes and order right and Len equal to the monitors not paused.
func TestQueueStaysConsistent(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := New(Options{Now: c.now})
	rng := rand.New(rand.NewPCG(1, 2))
	paused := map[string]bool{}
	for step := range 5000 {
		id := fmt.Sprintf("m%02d", rng.IntN(40))
		switch op := rng.IntN(10); {
		case op < 4:
			m := monitor(id, time.Duration(10+rng.IntN(50))*time.Second)
			m.Paused = rng.IntN(3) == 0
			paused[id] = m.Paused
			s.Upsert(m)
		case op < 5:
			var keep []*pb.Monitor
			for kid, p := range paused {
				if kid != id {
					m := monitor(kid, 30*time.Second)
					m.Paused = p
					keep = append(keep, m)
				}
			}
			delete(paused, id)
			s.Sync(keep)
		default:
			c.t = c.t.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
			s.due(c.t)
		}
		want := 0
		for _, p := range paused {
			if !p {
				want++
			}
		}
		if s.Len() != want {
			t.Fatalf("step %d: Len %d, want %d", step, s.Len(), want)
		}
		for i, e := range s.queue {
			if e.at != i {
				t.Fatalf("step %d: entry %s at %d thinks it is at %d", step, e.m.Id, i, e.at)
			}
			if i > 0 && s.queue[(i-1)/2].next.After(e.next) {
				t.Fatalf("step %d: heap order broken at %d", step, i)
			}
		}
	}
}

// TestRestartRunsEachMonitorOnce: a controller that stops for three and a half intervals and
// starts again (a new Scheduler, loaded with Sync) runs no monitor at start, none more than once
// in its first interval and every one of them in it: slots missed while it was down are skipped,
// not run in a burst to catch up. The first interval's runs are spread: no 100 ms window carries
// more than 1.5 times the mean. Fake time (synctest) runs the real loop and its timers.
func TestRestartRunsEachMonitorOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const n, iv = 10000, 10 * time.Second
		var ms []*pb.Monitor
		for i := range n {
			ms = append(ms, monitor(fmt.Sprintf("mon_%05d", i), iv))
		}
		var mu sync.Mutex // the loop dispatches on its own goroutine
		runs := map[string]int{}
		var at []time.Duration // when each run went out, since the restart
		// start starts a controller's scheduler; the function it returns stops it and waits for
		// its loop to end.
		start := func() (time.Time, func()) {
			started := time.Now()
			s := New(Options{Dispatch: func(due []*pb.Monitor) {
				mu.Lock()
				defer mu.Unlock()
				for _, m := range due {
					runs[m.Id]++
					at = append(at, time.Since(started))
				}
			}})
			s.Sync(ms)
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan struct{})
			go func() { s.Run(ctx); close(done) }()
			return started, func() { cancel(); <-done }
		}
		_, stop := start()
		time.Sleep(25 * time.Second)
		stop()
		time.Sleep(35 * time.Second) // down for three and a half intervals
		clear(runs)
		at = at[:0]
		_, stop = start()
		synctest.Wait()
		mu.Lock()
		early := len(at)
		mu.Unlock()
		if early > 0 {
			t.Fatalf("%d runs went out the moment the controller started again, want none", early)
		}
		time.Sleep(iv)
		synctest.Wait()
		stop()
		if len(runs) != n {
			t.Errorf("%d of %d monitors ran in the first interval after the restart", len(runs), n)
		}
		for id, k := range runs {
			if k > 1 {
				t.Fatalf("%s ran %d times in the first interval after the restart, want at most once", id, k)
			}
		}
		perWindow := make([]int, iv/(100*time.Millisecond))
		for _, d := range at {
			perWindow[min(len(perWindow)-1, int(d/(100*time.Millisecond)))]++
		}
		mean := float64(len(at)) / float64(len(perWindow))
		if top := slices.Max(perWindow); float64(top) > 1.5*mean {
			t.Errorf("the busiest 100 ms window after the restart carried %d runs, %.2f times the mean %.1f; want at most 1.5", top, float64(top)/mean, mean)
		}
	})
}
