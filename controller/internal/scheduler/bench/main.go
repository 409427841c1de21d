// Command bench measures the scheduler's precision in real time: 10,000 monitors on 10 s
// intervals (1,000 runs/s), loaded at once as after a controller restart, dispatched by the real
// loop for one interval. It prints how late each run went out behind its slot (p50/p99), the
// busiest 100 ms window over the mean, and the most runs of one monitor in the interval, each
// beside its baseline measured at the same time: a plain time.AfterFunc timer per slot, in the
// same process. The dispatch function only records: the lag is the scheduler's own, without the
// dispatcher's round (its commit and publish), which lookout-ctlbench measures as "delivered".
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/lookout-synthetics/lookout/controller/internal/scheduler"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

var (
	monitors = flag.Int("monitors", 10000, "monitors loaded")
	interval = flag.Duration("interval", 10*time.Second, "their interval (the shortest a monitor may have)")
)

const window = 100 * time.Millisecond // the spread is counted per window of this length

// record is when runs went out: by the scheduler, and by the baseline timers.
type record struct {
	start     time.Time // runs of slots before start are not counted
	end       time.Time // nor those from end on, which belong to the next interval
	mu        sync.Mutex
	lags      []time.Duration
	at        []time.Time
	perID     map[string]int
	timerLags []time.Duration
	timerAt   []time.Time
	slots     []time.Time // the slots themselves: the spread by design, before any machine
}

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "scheduler bench:", err)
		os.Exit(1)
	}
}

func run() error {
	ms := make([]*pb.Monitor, *monitors)
	for i := range ms {
		id := fmt.Sprintf("mon_%016x", uint64(i)*0x9e3779b97f4a7c15) // ids as unrelated as real ones
		ms[i] = &pb.Monitor{Id: id, Name: id, Interval: durationpb.New(*interval)}
	}
	// The measured interval starts a little later, so that arming the timers and loading the
	// monitors are over by then.
	start := time.Now().Add(500 * time.Millisecond)
	end := start.Add(*interval)
	rec := &record{start: start, end: end, perID: map[string]int{}}
	s := scheduler.New(scheduler.Options{Dispatch: rec.dispatched})
	ctx, cancel := context.WithCancel(context.Background())
	timers := rec.startTimers(ms, start, end)
	s.Sync(ms) // as at a controller's start: every monitor on its next slot
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	time.Sleep(time.Until(end.Add(200 * time.Millisecond)))
	cancel()
	<-done
	for _, t := range timers {
		t.Stop()
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.print(start, end)
	return nil
}

// dispatched records each monitor's lag behind the slot it was due at.
func (r *record) dispatched(due []*pb.Monitor) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range due {
		iv := m.Interval.AsDuration()
		slot := scheduler.SlotAfter(m.Id, iv, now.Add(-iv))
		if slot.Before(r.start) || !slot.Before(r.end) {
			continue
		}
		r.lags = append(r.lags, now.Sub(slot))
		r.at = append(r.at, now)
		r.perID[m.Id]++
	}
}

// startTimers arms a timer at each monitor's slot in [start, end): the baseline of how late this
// process wakes for a time it asked for.
func (r *record) startTimers(ms []*pb.Monitor, start, end time.Time) []*time.Timer {
	var ts []*time.Timer
	for _, m := range ms {
		slot := scheduler.SlotAfter(m.Id, m.Interval.AsDuration(), start)
		if !slot.Before(end) {
			continue
		}
		r.slots = append(r.slots, slot)
		ts = append(ts, time.AfterFunc(time.Until(slot), func() {
			now := time.Now()
			r.mu.Lock()
			r.timerLags = append(r.timerLags, now.Sub(slot))
			r.timerAt = append(r.timerAt, now)
			r.mu.Unlock()
		}))
	}
	return ts
}

func (r *record) print(start, end time.Time) {
	most := 0
	for _, n := range r.perID {
		most = max(most, n)
	}
	lag, tlag := sorted(r.lags), sorted(r.timerLags)
	fmt.Printf("%-38s %10s %10s %10s\n", fmt.Sprintf("schedule (%d monitors / %s)", *monitors, *interval), "scheduler", "timers", "slots")
	fmt.Printf("%-38s %10.2f %10.2f\n", "lag p50 (ms)", ms(q(lag, 0.5)), ms(q(tlag, 0.5)))
	fmt.Printf("%-38s %10.2f %10.2f\n", "lag p99 (ms)", ms(q(lag, 0.99)), ms(q(tlag, 0.99)))
	fmt.Printf("%-38s %10.2f %10.2f %10.2f\n", "busiest 100 ms window / mean", spread(r.at, start, end), spread(r.timerAt, start, end),
		spread(r.slots, start, end))
	fmt.Printf("%-38s %10d %10d %10d\n", "runs in the interval", len(lag), len(tlag), len(r.slots))
	fmt.Printf("%-38s %10d %10d\n", "most runs of one monitor", most, 1)
	fmt.Printf("schedule_lag_p50_ms=%.2f\nschedule_lag_p99_ms=%.2f\n", ms(q(lag, 0.5)), ms(q(lag, 0.99)))
	fmt.Printf("timer_lag_p50_ms=%.2f\ntimer_lag_p99_ms=%.2f\n", ms(q(tlag, 0.5)), ms(q(tlag, 0.99)))
	fmt.Printf("schedule_spread_max_over_mean=%.2f\ntimer_spread_max_over_mean=%.2f\nslot_spread_max_over_mean=%.2f\n",
		spread(r.at, start, end), spread(r.timerAt, start, end), spread(r.slots, start, end))
	fmt.Printf("schedule_restart_max_runs_per_monitor=%d\n", most)
}

// spread is the most events in any window-long bucket of [start, end) over the mean per bucket.
func spread(at []time.Time, start, end time.Time) float64 {
	buckets := make([]int, int(end.Sub(start)/window))
	n := 0
	for _, t := range at {
		if i := int(t.Sub(start) / window); i >= 0 && i < len(buckets) {
			buckets[i]++
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return float64(slices.Max(buckets)) / (float64(n) / float64(len(buckets)))
}

func sorted(d []time.Duration) []time.Duration {
	d = slices.Clone(d)
	slices.Sort(d)
	return d
}

func q(s []time.Duration, p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
