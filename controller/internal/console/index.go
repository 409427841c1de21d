package console

import (
	"sync"
	"time"
	"unicode/utf8"

	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// IndexOptions bound the index's memory.
type IndexOptions struct {
	RecentRuns  int // kept per monitor for its page and chart; default 30
	MaxMonitors int // monitors tracked at most; default 100,000
}

// Index keeps, in memory, the latest result per monitor × checkpoint and the recent runs per
// monitor. It is fed by Observe for every stored result and started from the tail of the stored
// results with LoadTail. Older results than the one it holds are ignored, so the order in which
// the two feeds arrive does not matter.
type Index struct {
	o      IndexOptions
	mu     sync.RWMutex
	latest map[string]map[string]*runSummary // monitor id → checkpoint name → latest
	recent map[string][]runSummary           // monitor id → newest last
	subs   map[chan runSummary]struct{}
}

// runSummary is what the overview, the monitor page and the chart need of one result.
type runSummary struct {
	RunID, MonitorID, Checkpoint string
	Outcome                      pb.Outcome
	Finished                     time.Time
	Sequence                     uint64
	Order                        store.RunOrder // the result's place in its series
	Phases                       phases
	Message                      string
}

// NewIndex returns an empty index.
func NewIndex(o IndexOptions) *Index {
	if o.RecentRuns <= 0 {
		o.RecentRuns = 30
	}
	if o.MaxMonitors <= 0 {
		o.MaxMonitors = 100000
	}
	return &Index{o: o, latest: map[string]map[string]*runSummary{}, recent: map[string][]runSummary{}, subs: map[chan runSummary]struct{}{}}
}

// ResultLog is the stored results, in storage order.
type ResultLog interface {
	Results(after uint64, fn func(*pb.RunResult) bool) error
}

// LoadTail feeds the index the last n stored results.
func (x *Index) LoadTail(log ResultLog, n uint64) error {
	last, err := lastSequence(log)
	if err != nil {
		return err
	}
	after := uint64(0)
	if last > n {
		after = last - n
	}
	return log.Results(after, func(res *pb.RunResult) bool { x.add(summarize(res)); return true })
}

// lastSequence finds the newest stored result's sequence by bisection: "a result after s exists"
// is true below it and false from it on.
func lastSequence(log ResultLog) (uint64, error) {
	lo, hi := uint64(0), uint64(1)<<62
	for lo < hi {
		mid := lo + (hi-lo)/2
		found := false
		if err := log.Results(mid, func(*pb.RunResult) bool { found = true; return false }); err != nil {
			return 0, err
		}
		if found {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// Observe records a stored result and tells the live pages.
func (x *Index) Observe(res *pb.RunResult) {
	if x == nil {
		return
	}
	s := summarize(res)
	if !x.add(s) {
		return
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	for ch := range x.subs {
		select {
		case ch <- s:
		default: // a page that falls behind misses an update; its next reload is complete
		}
	}
}

// add records s; false when it was older than what the index holds for its cell: its run was
// scheduled before (a result reported late, see store.RunOrder), or it is the same result again.
func (x *Index) add(s runSummary) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	cells, ok := x.latest[s.MonitorID]
	if !ok {
		if len(x.latest) >= x.o.MaxMonitors {
			return false
		}
		cells = map[string]*runSummary{}
		x.latest[s.MonitorID] = cells
	}
	if old, ok := cells[s.Checkpoint]; ok && !after(s, *old) {
		return false
	}
	cells[s.Checkpoint] = &s
	runs := append(x.recent[s.MonitorID], s)
	if len(runs) > x.o.RecentRuns {
		runs = append(runs[:0:0], runs[len(runs)-x.o.RecentRuns:]...)
	}
	x.recent[s.MonitorID] = runs
	return true
}

// retain forgets the monitors whose id is not in keep (deleted ones), so the index stays the size
// of the fleet.
func (x *Index) retain(keep map[string]bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for id := range x.latest {
		if !keep[id] {
			delete(x.latest, id)
			delete(x.recent, id)
		}
	}
}

// cell is the latest result of a monitor at a checkpoint.
func (x *Index) cell(monitorID, checkpoint string) (runSummary, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	s, ok := x.latest[monitorID][checkpoint]
	if !ok {
		return runSummary{}, false
	}
	return *s, true
}

// cellReader looks up the latest result of a monitor at a checkpoint.
type cellReader func(monitorID, checkpoint string) (*runSummary, bool)

// read lets fn look cells up under one read lock: the overview reads tens of thousands.
func (x *Index) read(fn func(cellReader)) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	fn(func(monitorID, checkpoint string) (*runSummary, bool) {
		s, ok := x.latest[monitorID][checkpoint]
		return s, ok
	})
}

// cells is a copy of a monitor's latest results.
func (x *Index) cells(monitorID string) map[string]runSummary {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make(map[string]runSummary, len(x.latest[monitorID]))
	for k, v := range x.latest[monitorID] {
		out[k] = *v
	}
	return out
}

// recentRuns is a copy of a monitor's recent runs, newest last.
func (x *Index) recentRuns(monitorID string) []runSummary {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return append([]runSummary(nil), x.recent[monitorID]...)
}

// subscribe returns the live feed of new results and the function that ends it.
func (x *Index) subscribe() (<-chan runSummary, func()) {
	ch := make(chan runSummary, 64)
	x.mu.Lock()
	x.subs[ch] = struct{}{}
	x.mu.Unlock()
	return ch, func() {
		x.mu.Lock()
		delete(x.subs, ch)
		x.mu.Unlock()
	}
}

// maxMessage bounds the message kept per run (the run page shows it whole).
const maxMessage = 240

// after says whether s comes after old in their series; a run's later result (a late report
// replacing its "agent lost" expiry) comes after its earlier one.
func after(s, old runSummary) bool {
	if s.RunID == old.RunID {
		return s.Sequence > old.Sequence
	}
	return old.Order.Before(s.Order)
}

func summarize(res *pb.RunResult) runSummary {
	return runSummary{RunID: res.RunId, MonitorID: res.MonitorId, Checkpoint: res.CheckpointName, Outcome: res.Outcome,
		Finished: res.FinishedAt.AsTime(), Sequence: res.Sequence, Order: store.OrderOf(res), Phases: phasesOf(res), Message: clip(res.Message, maxMessage)}
}

// clip shortens s to at most n bytes without splitting a character, marking the cut with "…".
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
