package ctl

import (
	"testing"
	"time"
)

// TestTailWindowsTellsStallsFromSpread: the slowest 1% of 1,000 runs, all in one 50 ms stretch,
// hit one window; the same number spread over the phase hit as many windows as there are slow runs.
func TestTailWindowsTellsStallsFromSpread(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_800_000_000, 0)
	at := make([]time.Time, 1000)
	lat := make([]time.Duration, 1000)
	for i := range at {
		at[i] = start.Add(time.Duration(i) * 5 * time.Millisecond) // 5 s in all: 100 windows
		lat[i] = 3 * time.Millisecond
	}
	stalled := append([]time.Duration(nil), lat...)
	for i := 500; i < 510; i++ { // 10 runs dispatched in 45 ms, inside window 50
		stalled[i] = 20 * time.Millisecond
	}
	if hit, windows := tailWindows(at, stalled, 50*time.Millisecond); hit != 1 || windows != 100 {
		t.Errorf("a stall: slowest 1%% in %d of %d windows, want 1 of 100", hit, windows)
	}
	spread := append([]time.Duration(nil), lat...)
	for i := 0; i < 1000; i += 100 {
		spread[i+7] = 20 * time.Millisecond
	}
	if hit, _ := tailWindows(at, spread, 50*time.Millisecond); hit != 10 {
		t.Errorf("slow runs spread out: slowest 1%% in %d windows, want 10", hit)
	}
	// All alike but one: the slowest 1% is ten runs, not the thousand tied at the cut.
	tied := append([]time.Duration(nil), lat...)
	tied[0] = 20 * time.Millisecond
	if hit, _ := tailWindows(at, tied, 50*time.Millisecond); hit != 1 {
		t.Errorf("one slow run among ties: the slowest 1%% hit %d windows, want 1 (the slow run's, plus ties in it)", hit)
	}
	if hit, windows := tailWindows(nil, nil, 50*time.Millisecond); hit != 0 || windows != 0 {
		t.Errorf("no runs: %d of %d", hit, windows)
	}
}
