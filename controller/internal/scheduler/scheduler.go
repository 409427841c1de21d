// Package scheduler decides when each monitor is due and hands the due ones, a round at a time,
// to a dispatch function. It holds no durable state: the monitors live in the store, runs in the
// run table.
//
// A monitor runs on fixed slots of the wall clock: offset + k·interval, where its offset within the
// interval comes from a hash of its id. Monitors that share an interval are therefore spread evenly
// over it, whatever order they were applied or resumed in, and a controller restart leaves every
// monitor on its slots instead of running them all at once. A monitor applied for the first time
// runs at once (whoever applied it wants a first result), then on its slots.
package scheduler

import (
	"container/heap"
	"context"
	"hash/fnv"
	"sync"
	"time"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// DispatchFunc starts one run of each monitor on each of its checkpoints. It reports its own
// failures: the scheduler moves every monitor it handed over to its next slot either way.
type DispatchFunc func(due []*pb.Monitor)

// Options configure a Scheduler.
type Options struct {
	Dispatch DispatchFunc
	// Tick is the least time between the starts of two dispatch rounds, so that monitors due close
	// together go out in one round (one run-table commit); default 10ms. A run starts late by at
	// most a Tick, or by the previous round's dispatch time when that is longer.
	Tick time.Duration
	Now  func() time.Time
}

// maxSleep bounds one wait for the next due monitor, so a wall-clock step (slots are wall-clock
// times, timers are monotonic) delays a run by at most this much.
const maxSleep = time.Second

type entry struct {
	m    *pb.Monitor
	next time.Time
	at   int    // index in the heap; -1 while the monitor is paused
	hash uint64 // idHash(m.Id): places its slots
}

// Scheduler runs monitors at their interval.
type Scheduler struct {
	o       Options
	mu      sync.Mutex
	entries map[string]*entry // every monitor it was told of, paused ones included
	queue   byNext            // the scheduled (not paused) entries, soonest first
	kick    chan struct{}
}

// New returns a Scheduler with no monitors.
func New(o Options) *Scheduler {
	if o.Tick == 0 {
		o.Tick = 10 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Scheduler{o: o, entries: map[string]*entry{}, kick: make(chan struct{}, 1)}
}

// Sync makes the schedule match monitors (the controller's start, or a reload after a delete):
// monitors it did not know go on their next slot, changed ones keep their next time unless their
// interval shrank below it, removed ones stop.
func (s *Scheduler) Sync(monitors []*pb.Monitor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.o.Now()
	keep := make(map[string]bool, len(monitors))
	for _, m := range monitors {
		keep[m.Id] = true
		s.upsertLocked(m, now, false)
	}
	for id, e := range s.entries {
		if !keep[id] {
			s.unqueue(e)
			delete(s.entries, id)
		}
	}
}

// Upsert brings one monitor's entry up to date after an apply, a pause or a resume, without
// reading every other monitor. A monitor it has not seen is due now; a resumed one goes on its
// next slot (resuming a thousand monitors at once must not run them all at once).
func (s *Scheduler) Upsert(m *pb.Monitor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.upsertLocked(m, s.o.Now(), true)
}

func (s *Scheduler) upsertLocked(m *pb.Monitor, now time.Time, fresh bool) {
	iv := m.Interval.AsDuration()
	e, known := s.entries[m.Id]
	if !known {
		e = &entry{at: -1, hash: idHash(m.Id)}
		s.entries[m.Id] = e
	}
	e.m = m
	switch {
	case m.Paused || iv <= 0: // no interval (validation refuses one) would make it due forever
		s.unqueue(e)
	case !known && fresh:
		e.next = now
		s.enqueue(e)
	case e.at < 0: // new to this scheduler at start-up, or resumed
		// A monitor paused and resumed within an interval keeps the next run it had.
		if !e.next.After(now) || e.next.After(now.Add(iv)) {
			e.next = slotAfter(e.hash, iv, now)
		}
		s.enqueue(e)
	case e.next.After(now.Add(iv)): // the interval shrank below the time left
		e.next = slotAfter(e.hash, iv, now)
		heap.Fix(&s.queue, e.at)
		s.wake()
	}
}

func (s *Scheduler) enqueue(e *entry) {
	heap.Push(&s.queue, e)
	s.wake()
}

// wake tells Run that the soonest entry may have changed.
func (s *Scheduler) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Scheduler) unqueue(e *entry) {
	if e.at >= 0 {
		heap.Remove(&s.queue, e.at)
	}
}

// Len is the number of scheduled (not paused) monitors.
func (s *Scheduler) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// due returns the monitors due at now and moves each on to its first slot at least half an
// interval away: a monitor that ran off its slots (just applied) keeps some distance from its next
// run, and intervals missed while the controller was busy or down are skipped rather than run in a
// burst to catch up.
func (s *Scheduler) due(now time.Time) []*pb.Monitor {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*pb.Monitor
	for len(s.queue) > 0 && !s.queue[0].next.After(now) {
		e := s.queue[0]
		out = append(out, e.m)
		iv := e.m.Interval.AsDuration()
		e.next = slotAfter(e.hash, iv, now.Add(iv/2-1))
		heap.Fix(&s.queue, 0)
	}
	return out
}

// untilNext is how long until the soonest scheduled monitor is due, at most maxSleep.
func (s *Scheduler) untilNext(now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return maxSleep
	}
	return min(s.queue[0].next.Sub(now), maxSleep)
}

// Run dispatches due monitors until ctx ends: a round as soon as something is due (or a monitor
// was added), at most one round per Tick. Rounds run one at a time: a slow one (a slow disk under
// the run table) delays the next, whose round then holds every monitor that fell due meanwhile.
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	wait := func(d time.Duration, kick <-chan struct{}) bool {
		t.Reset(d)
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		case <-kick:
			t.Stop()
		}
		return true
	}
	for {
		start := time.Now()
		if due := s.due(s.o.Now()); len(due) > 0 {
			s.o.Dispatch(due)
		}
		if rest := s.o.Tick - time.Since(start); rest > 0 && !wait(rest, nil) {
			return
		}
		if d := s.untilNext(s.o.Now()); d > 0 && !wait(d, s.kick) {
			return
		}
	}
}

// slotAfter is the first slot strictly after t of the monitor whose id hashes to hash: the time
// offset + k·interval (on the Unix clock) where offset is hash modulo the interval.
func slotAfter(hash uint64, interval time.Duration, t time.Time) time.Time {
	iv := int64(interval)
	if iv <= 0 {
		return t
	}
	off := int64(hash % uint64(iv))
	n := t.UnixNano() - off
	k := n / iv
	if n >= 0 {
		k++
	}
	return time.Unix(0, off+k*iv)
}

// SlotAfter is the first slot strictly after t of the monitor with id at interval: where the
// scheduler puts its runs (benchmarks measure the lag behind it).
func SlotAfter(id string, interval time.Duration, t time.Time) time.Time {
	return slotAfter(idHash(id), interval, t)
}

// idHash places a monitor's slots; it is worked out once per monitor, not per run.
func idHash(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

// byNext is a min-heap of entries by next time; it keeps each entry's index current.
type byNext []*entry

func (q byNext) Len() int           { return len(q) }
func (q byNext) Less(i, j int) bool { return q[i].next.Before(q[j].next) }
func (q byNext) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].at, q[j].at = i, j
}
func (q *byNext) Push(x any) {
	e := x.(*entry)
	e.at = len(*q)
	*q = append(*q, e)
}
func (q *byNext) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	e.at = -1
	return e
}
