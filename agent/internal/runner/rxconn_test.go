package runner

import (
	"strings"
	"testing"
	"time"
)

// TestArrivalIsBelievedOnlyWhenPlausible: a receive time is used when it lies in this exchange,
// before now; a stale one (an earlier exchange's read), a future one or a missing one gives now.
func TestArrivalIsBelievedOnlyWhenPlausible(t *testing.T) {
	t.Parallel()
	now := time.Now()
	start := now.Add(-50 * time.Millisecond)
	tests := map[string]struct {
		last time.Time
		rx   bool
		want time.Time
	}{
		"arrived during the exchange": {last: now.Add(-20 * time.Millisecond), rx: true, want: now.Add(-20 * time.Millisecond)},
		"arrived before the exchange": {last: start.Add(-time.Millisecond), rx: true, want: now},
		"after now":                   {last: now.Add(time.Millisecond), rx: true, want: now},
		"no read yet":                 {rx: true, want: now},
		"no receive times":            {want: now},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tl := &timeline{start: start}
			if tc.rx {
				tl.rx = &rxConn{last: tc.last}
			}
			if got := tl.arrivedAfter(start, now); !got.Equal(tc.want) {
				t.Errorf("arrivedAfter = now%+v, want now%+v", got.Sub(now), tc.want.Sub(now))
			}
		})
	}
}

// TestArrivalKeepsTheMonotonicClock: a kernel receive time (wall clock) becomes a time on now's
// monotonic clock, so that it subtracts from the other stamps; implausible ones give now.
func TestArrivalKeepsTheMonotonicClock(t *testing.T) {
	t.Parallel()
	now := time.Now()
	wall := now.Round(0)
	tests := map[string]struct {
		at   time.Time
		want time.Duration // before now
	}{
		"3 ms before now":     {at: wall.Add(-3 * time.Millisecond), want: 3 * time.Millisecond},
		"in the future":       {at: wall.Add(time.Millisecond), want: 0},
		"older than maxRxLag": {at: wall.Add(-maxRxLag - time.Millisecond), want: 0},
		"unknown (zero time)": {want: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := arrival(tc.at, now)
			if !strings.Contains(got.String(), " m=") {
				t.Error("the arrival has no monotonic clock reading")
			}
			if d := now.Sub(got); d != tc.want {
				t.Errorf("arrival is %v before now, want %v", d, tc.want)
			}
		})
	}
}
