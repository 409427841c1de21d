package refusals

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lookout-synthetics/lookout/controller/internal/store"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type log struct {
	mu      sync.Mutex
	entries []store.AuditEntry
}

func (l *log) audit(e store.AuditEntry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, e)
	return nil
}

// 20,000 refusals of one agent in one interval are two entries: the first at once, then one that
// counts the rest; a second kind of refusal and a second agent get their own; nothing is lost.
func TestRefusalsAreMergedPerAgentAndInterval(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	var lg log
	l := New(Options{Audit: lg.audit, Interval: 10 * time.Second, Burst: 1 << 30, Now: c.now})
	for i := range 20_000 {
		l.Refused("ag_1", "denied_fetch_run_secrets", "run_"+string(rune('a'+i%26)), "not found")
	}
	l.Refused("ag_1", "denied_report_result", "run_x", "not found")
	l.Refused("ag_2", "denied_fetch_run_secrets", "run_y", "not found")
	if n := len(lg.entries); n != 3 {
		t.Fatalf("%d entries before the interval ends, want 3 (the first of each agent and kind)", n)
	}
	c.add(10 * time.Second)
	l.Flush()
	if n := len(lg.entries); n != 4 {
		t.Fatalf("%d entries after the flush, want 4", n)
	}
	last := lg.entries[3]
	if last.Actor != "ag_1" || last.Action != "denied_fetch_run_secrets" || !strings.HasPrefix(last.Detail, "19999 more refused since 2026-12-06T12:00:00Z") {
		t.Fatalf("merged entry %+v, want ag_1's 19,999 later refusals counted", last)
	}
	l.Flush()
	if n := len(lg.entries); n != 4 {
		t.Fatalf("an empty flush wrote %d entries", n-4)
	}
	l.Refused("ag_1", "denied_fetch_run_secrets", "run_z", "not found")
	if n := len(lg.entries); n != 5 {
		t.Fatalf("the first refusal of a new interval was not written at once")
	}
}

// An identity refused Burst times in an interval is turned away until the interval ends; others
// are not; turned-away calls are counted, not written one by one.
func TestAllowTurnsAwayAnIdentityRefusedTooOften(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	var lg log
	l := New(Options{Audit: lg.audit, Interval: 10 * time.Second, Burst: 5, Now: c.now})
	for range 5 {
		if !l.Allow("ag_1", "denied_report_result") {
			t.Fatal("turned away before its burst")
		}
		l.Refused("ag_1", "denied_report_result", "run_x", "not found")
	}
	for range 1000 {
		if l.Allow("ag_1", "denied_report_result") {
			t.Fatal("allowed past its burst")
		}
	}
	if !l.Allow("ag_2", "denied_report_result") {
		t.Fatal("another agent was turned away")
	}
	c.add(10 * time.Second)
	l.Flush()
	if !l.Allow("ag_1", "denied_report_result") {
		t.Fatal("still turned away in the next interval")
	}
	if n := len(lg.entries); n != 2 || !strings.Contains(lg.entries[1].Detail, "1004 more refused") || !strings.Contains(lg.entries[1].Detail, "(1000 turned away unserved)") {
		t.Fatalf("entries %+v, want the first refusal and one counting 1004 more, 1000 of them turned away", lg.entries)
	}
}

func TestSamplerLetsAFewLinesThroughAndCountsTheRest(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	s := Sampler{Limit: 3, Interval: time.Minute, Now: c.now}
	passed := 0
	for range 1000 {
		if ok, _ := s.Allow(); ok {
			passed++
		}
	}
	if passed != 3 {
		t.Fatalf("%d lines let through, want 3", passed)
	}
	c.add(time.Minute)
	if ok, dropped := s.Allow(); !ok || dropped != 997 {
		t.Fatalf("first line of the next minute: %v, %d held back; want through, saying 997", ok, dropped)
	}
}

// A caller that changes identity with every call (a new address each time) writes no more than
// Sources entries of their own per interval; the rest merge under OtherSources, counted.
func TestIdentitiesBeyondTheBoundMergeAsOtherSources(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	var lg log
	l := New(Options{Audit: lg.audit, Interval: 10 * time.Second, Sources: 3, Now: c.now})
	for i := range 1000 {
		l.Refused(fmt.Sprintf("unknown token from 2001:db8::%x", i), "denied_token", "AdminService/ListMonitors", "not valid")
	}
	if n := len(lg.entries); n != 4 {
		t.Fatalf("%d entries for 1000 identities with a bound of 3, want 4 (3, then the first of other sources)", n)
	}
	if a := lg.entries[3].Actor; a != OtherSources {
		t.Fatalf("the fourth identity's entry is by %q, want %q", a, OtherSources)
	}
	l.Flush()
	last := lg.entries[len(lg.entries)-1]
	if len(lg.entries) != 5 || last.Actor != OtherSources || !strings.HasPrefix(last.Detail, "996 more refused") {
		t.Fatalf("after the flush: %d entries, last %+v; want other sources' 996 later refusals counted", len(lg.entries), last)
	}
}

// TestMergedIdentitiesAreStillTurnedAway: once an interval holds Sources identities' entries, a
// new identity's refusals merge under OtherSources in the audit log but still count as its own,
// so Allow turns it away after Burst, as it would any other: filling the bound from many
// addresses must not switch the rate limit off.
func TestMergedIdentitiesAreStillTurnedAway(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	var lg log
	l := New(Options{Audit: lg.audit, Interval: 10 * time.Second, Burst: 5, Sources: 3, Now: c.now})
	for i := range 3 {
		l.Refused(fmt.Sprintf("unknown token from 2001:db8::%x", i), "denied_token", "AdminService/ListMonitors", "not valid")
	}
	for range 50 {
		l.Refused("ag_flood", "refused_agent_call", "run_1", "revoked")
	}
	if l.Allow("ag_flood", "refused_agent_call") {
		t.Fatal("an agent refused 50 times with a burst of 5 is still allowed because its entries merged under other sources")
	}
	if !l.Allow("ag_other", "refused_agent_call") {
		t.Fatal("an agent never refused is turned away")
	}
}
