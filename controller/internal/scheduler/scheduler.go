// Package scheduler decides when each monitor is due and hands due monitors to a dispatch function.
// It holds no durable state: the monitors live in the store, runs in the run table.
package scheduler

import (
	"context"
	"log/slog"
	"sync"
	"time"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// DispatchFunc starts one run of m on each of its checkpoints.
type DispatchFunc func(m *pb.Monitor) error

// Options configure a Scheduler.
type Options struct {
	Dispatch DispatchFunc
	Logger   *slog.Logger
	Tick     time.Duration // how often due monitors are looked for; default 250ms
	Now      func() time.Time
}

type entry struct {
	m    *pb.Monitor
	next time.Time
}

// Scheduler runs monitors at their interval.
type Scheduler struct {
	o       Options
	mu      sync.Mutex
	entries map[string]*entry
}

// New returns a Scheduler with no monitors.
func New(o Options) *Scheduler {
	if o.Tick == 0 {
		o.Tick = 250 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Scheduler{o: o, entries: map[string]*entry{}}
}

// Sync makes the schedule match monitors: new monitors are due now, changed ones keep their next
// time unless their interval shrank below it, removed ones stop.
func (s *Scheduler) Sync(monitors []*pb.Monitor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.o.Now()
	keep := make(map[string]bool, len(monitors))
	for _, m := range monitors {
		keep[m.Id] = true
		s.upsertLocked(m, now)
	}
	for id := range s.entries {
		if !keep[id] {
			delete(s.entries, id)
		}
	}
}

// Upsert brings one monitor's entry up to date (added, changed or paused) as Sync would, without
// reading every other monitor: applying N monitors costs N small updates, not N full reloads.
func (s *Scheduler) Upsert(m *pb.Monitor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.upsertLocked(m, s.o.Now())
}

func (s *Scheduler) upsertLocked(m *pb.Monitor, now time.Time) {
	e, ok := s.entries[m.Id]
	switch {
	case m.Paused:
		delete(s.entries, m.Id)
	case !ok:
		s.entries[m.Id] = &entry{m: m, next: now}
	default:
		e.m = m
		if limit := now.Add(m.Interval.AsDuration()); e.next.After(limit) {
			e.next = limit
		}
	}
}

// Len is the number of scheduled monitors.
func (s *Scheduler) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// due returns the monitors due at now and moves their next time on by one interval (skipping
// intervals missed while the controller was busy or down rather than bursting to catch up).
func (s *Scheduler) due(now time.Time) []*pb.Monitor {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*pb.Monitor
	for _, e := range s.entries {
		if now.Before(e.next) {
			continue
		}
		out = append(out, e.m)
		e.next = e.next.Add(e.m.Interval.AsDuration())
		if !e.next.After(now) {
			e.next = now.Add(e.m.Interval.AsDuration())
		}
	}
	return out
}

// Run dispatches due monitors until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTicker(s.o.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, m := range s.due(s.o.Now()) {
				if err := s.o.Dispatch(m); err != nil {
					s.o.Logger.Error("dispatching scheduled run", "monitor", m.Name, "err", err)
				}
			}
		}
	}
}
