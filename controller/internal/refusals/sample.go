package refusals

import (
	"sync"
	"time"
)

// Sampler lets the first Limit log lines of a kind through in each interval and counts the rest,
// for lines that anyone can cause (an unauthenticated call): the log says that refusals happened
// and how many, not one line each. The zero value lets 10 lines a minute through.
type Sampler struct {
	Limit    int              // default 10
	Interval time.Duration    // default a minute
	Now      func() time.Time // default time.Now

	mu      sync.Mutex
	start   time.Time
	passed  int
	dropped int
}

// Allow says whether to log this line. When it is the first line of a new interval and lines were
// held back in the one before, dropped says how many, so the line can mention them.
func (s *Sampler) Allow() (ok bool, dropped int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	limit, interval := s.Limit, s.Interval
	if limit <= 0 {
		limit = 10
	}
	if interval <= 0 {
		interval = time.Minute
	}
	if now.Sub(s.start) >= interval {
		dropped, s.dropped, s.passed, s.start = s.dropped, 0, 0, now
	}
	if s.passed >= limit {
		s.dropped++
		return false, 0
	}
	s.passed++
	return true, dropped
}
