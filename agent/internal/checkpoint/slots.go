package checkpoint

import (
	"context"
	"sync/atomic"
	"time"
)

// slots bounds the runs executing at once (--max-concurrent-runs) and keeps the figures that say
// when the bound is reached: a saturated agent starts runs late, and says so in its heartbeat and
// metrics instead of running late in silence.
type slots struct {
	sem     chan struct{}
	waiting atomic.Int32 // runs received and waiting for a slot now
	delayed atomic.Int64 // runs that had to wait for a slot, since start
	expired atomic.Int64 // runs whose deadline passed while they waited, since start
	waitNs  atomic.Int64 // time runs spent waiting for a slot, since start
	// sawWait is set when a run waits and cleared by the heartbeat that reports it, so a
	// saturation between two heartbeats is reported too.
	sawWait atomic.Bool
}

func newSlots(n int) *slots { return &slots{sem: make(chan struct{}, n)} }

// acquire takes a slot, waiting at most until ctx ends or the run's deadline. It reports whether
// the run got one; a run that did not must not start.
func (s *slots) acquire(ctx context.Context, deadline time.Time) bool {
	select {
	case s.sem <- struct{}{}:
		return true
	default:
	}
	s.delayed.Add(1)
	s.sawWait.Store(true)
	s.waiting.Add(1)
	start := time.Now()
	defer func() {
		s.waiting.Add(-1)
		s.waitNs.Add(int64(time.Since(start)))
		s.sawWait.Store(true) // it waited since any heartbeat that saw it waiting, too
	}()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case s.sem <- struct{}{}:
		return true
	case <-ctx.Done():
	case <-t.C:
		s.expired.Add(1)
	}
	return false
}

func (s *slots) release() { <-s.sem }

// SlotStats are the agent's run-slot figures, for metrics.
type SlotStats struct {
	Max, InFlight, Waiting int
	// Delayed and Expired count runs that waited for a slot, and those of them whose deadline
	// passed first (they were not run); Waited is the time runs spent waiting, in all.
	Delayed, Expired int64
	Waited           time.Duration
}

func (s *slots) stats() SlotStats {
	return SlotStats{Max: cap(s.sem), InFlight: len(s.sem), Waiting: int(s.waiting.Load()),
		Delayed: s.delayed.Load(), Expired: s.expired.Load(), Waited: time.Duration(s.waitNs.Load())}
}

// saturated reports whether a run is waiting for a slot now or waited since the last call.
func (s *slots) saturated() bool {
	return s.sawWait.Swap(false) || s.waiting.Load() > 0
}
