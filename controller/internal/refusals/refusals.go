package refusals

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/lookout-synthetics/lookout/controller/internal/store"
)

// Defaults for Options.
const (
	DefaultInterval = 10 * time.Second
	DefaultBurst    = 100
	DefaultSources  = 1000
)

// OtherSources is the actor of the refusals merged because an interval already held Sources
// identities' entries: a caller that changes address or token with every call (an IPv6 block)
// would otherwise write an entry per call.
const OtherSources = "other sources"

// maxTracked is how many identities per Sources an interval keeps refusal counts for.
const maxTracked = 100

// Options configure a Limiter.
type Options struct {
	Audit    func(store.AuditEntry) error // writes one entry
	Logger   *slog.Logger
	Interval time.Duration // merging window and rate-limit window; default DefaultInterval
	// Burst is how many refusals one identity may have in an interval before Allow turns its
	// calls away; default DefaultBurst. A healthy agent is refused rarely (a run lost to a sibling
	// instance, a result for a run already deleted).
	Burst int
	// Sources is how many identity and kind pairs an interval writes entries of their own for;
	// refusals of pairs beyond it merge under OtherSources. Default DefaultSources.
	Sources int
	Now     func() time.Time
}

// Limiter merges refusals and rate-limits identities that keep being refused.
type Limiter struct {
	o       Options
	mu      sync.Mutex
	pending map[key]*merged // refusals since the first one of each key in this window
	refused map[string]int  // refusals per identity in the current window
	window  time.Time       // when the current window began
}

type key struct{ actor, action string }

type merged struct {
	first         store.AuditEntry // written at once
	count         int              // refusals after the first, not yet written
	lastTarget    string
	lastDetail    string
	turnedAway    int // of count: calls Allow refused without serving them
	lastSeen      time.Time
	firstInWindow time.Time
}

// New returns a Limiter; call Run to have merged entries written as their interval ends.
func New(o Options) *Limiter {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Burst <= 0 {
		o.Burst = DefaultBurst
	}
	if o.Sources <= 0 {
		o.Sources = DefaultSources
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Limiter{o: o, pending: map[key]*merged{}, refused: map[string]int{}, window: o.Now()}
}

// Allow says whether actor's call may be served: false once actor has been refused Burst times
// in the current interval. A call turned away counts as a refusal of action (merged, never an
// entry of its own).
func (l *Limiter) Allow(actor, action string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.roll()
	if l.refused[actor] < l.o.Burst {
		return true
	}
	l.note(actor, action, "", "turned away: too many refused calls", true)
	return false
}

// Refused records a refused call. The first refusal of actor and action in an interval is
// written at once; the ones after it are counted and written as one entry when the interval ends.
func (l *Limiter) Refused(actor, action, target, detail string) {
	l.mu.Lock()
	l.roll()
	first := l.note(actor, action, target, detail, false)
	l.mu.Unlock()
	if first != nil {
		l.write(*first)
	}
}

// note counts a refusal; it returns the entry to write at once when it is the first of its key.
func (l *Limiter) note(actor, action, target, detail string, turnedAway bool) *store.AuditEntry {
	now := l.o.Now()
	// The identity's own count comes first: merging its entries under OtherSources must not
	// exempt it from Allow. The counts are bounded too, so that a flood of identities cannot grow
	// them without end within one interval; an identity past the bound is merged and not counted.
	if _, ok := l.refused[actor]; ok || len(l.refused) < maxTracked*l.o.Sources {
		l.refused[actor]++
	}
	k := key{actor, action}
	if _, ok := l.pending[k]; !ok && len(l.pending) >= l.o.Sources {
		actor = OtherSources
		k = key{actor, action}
	}
	if m, ok := l.pending[k]; ok {
		m.count++
		m.lastTarget, m.lastDetail, m.lastSeen = target, detail, now
		if turnedAway {
			m.turnedAway++
		}
		return nil
	}
	e := store.AuditEntry{Time: now, Actor: actor, Action: action, Target: target, Detail: detail}
	l.pending[k] = &merged{first: e, firstInWindow: now}
	return &e
}

// roll starts a new rate-limit window when the current one is over. Called with mu held.
func (l *Limiter) roll() {
	if now := l.o.Now(); now.Sub(l.window) >= l.o.Interval {
		clear(l.refused)
		l.window = now
	}
}

// Flush writes one entry for each key with refusals merged since its first, and starts afresh.
func (l *Limiter) Flush() {
	l.mu.Lock()
	var out []store.AuditEntry
	for k, m := range l.pending {
		if m.count > 0 {
			out = append(out, summary(k, m))
		}
	}
	clear(l.pending)
	l.roll()
	l.mu.Unlock()
	for _, e := range out {
		l.write(e)
	}
}

func summary(k key, m *merged) store.AuditEntry {
	d := fmt.Sprintf("%d more refused since %s", m.count, m.firstInWindow.UTC().Format(time.RFC3339))
	if m.turnedAway > 0 {
		d += fmt.Sprintf(" (%d turned away unserved)", m.turnedAway)
	}
	if m.lastDetail != "" {
		d += "; last: " + m.lastDetail
	}
	return store.AuditEntry{Time: m.lastSeen, Actor: k.actor, Action: k.action, Target: m.lastTarget, Detail: d}
}

func (l *Limiter) write(e store.AuditEntry) {
	if err := l.o.Audit(e); err != nil {
		l.o.Logger.Error("writing audit entry", "action", e.Action, "err", err)
	}
}

// Run flushes every interval until ctx ends. Flush once more after the last refused call can
// arrive (the caller's shutdown).
func (l *Limiter) Run(ctx context.Context) {
	t := time.NewTicker(l.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.Flush()
		}
	}
}
