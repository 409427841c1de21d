package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lookout-synthetics/lookout/controller/internal/store"
)

// pruneEvery is how often the controller looks for what is past retention: a tenth of the shorter
// retention, between 100 ms and a minute. Each look that finds nothing costs one read transaction.
func pruneEvery(r store.Retention) time.Duration {
	shortest := time.Duration(0)
	for _, d := range []time.Duration{r.Runs, r.Audit, r.Rollups, r.Alerts} {
		if d > 0 && (shortest == 0 || d < shortest) {
			shortest = d
		}
	}
	return min(max(shortest/10, 100*time.Millisecond), time.Minute)
}

// runPruner deletes finished runs, results, audit entries, rollups and resolved alerts past their retention, at start and
// then every pruneEvery, until ctx ends. With no retention set it does nothing.
func (s *Server) runPruner(ctx context.Context, pruned *prometheus.CounterVec) {
	r := s.o.Retention
	if r.Runs <= 0 && r.Audit <= 0 && r.Rollups <= 0 && r.Alerts <= 0 {
		return
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		got, err := s.store.Prune(ctx, r, time.Now())
		pruned.WithLabelValues("runs").Add(float64(got.Runs))
		pruned.WithLabelValues("results").Add(float64(got.Results))
		pruned.WithLabelValues("audit").Add(float64(got.Audit))
		if got.Total() > 0 {
			s.log.Info("deleted records past retention", "runs", got.Runs, "results", got.Results, "audit_entries", got.Audit,
				"retention", r.Runs.String(), "audit_retention", r.Audit.String())
		}
		if err != nil && ctx.Err() == nil {
			s.log.Error("deleting records past retention; trying again later", "err", err)
		}
		s.pruneRollups(ctx, pruned)
		s.pruneAlerts(ctx, pruned)
		t.Reset(pruneEvery(r))
	}
}

// pruneRollups deletes hourly rollups past --rollup-retention.
func (s *Server) pruneRollups(ctx context.Context, pruned *prometheus.CounterVec) {
	n, err := s.store.PruneRollups(ctx, s.o.Retention.Rollups, time.Now())
	pruned.WithLabelValues("rollups").Add(float64(n))
	if n > 0 {
		s.log.Info("deleted hourly rollups past retention", "rollups", n, "rollup_retention", s.o.Retention.Rollups.String())
	}
	if err != nil && ctx.Err() == nil {
		s.log.Error("deleting rollups past retention; trying again later", "err", err)
	}
}

// pruneAlerts deletes resolved alerts and their notifications past --alert-retention.
func (s *Server) pruneAlerts(ctx context.Context, pruned *prometheus.CounterVec) {
	n, err := s.store.PruneAlerts(ctx, s.o.Retention.Alerts, time.Now())
	pruned.WithLabelValues("alerts").Add(float64(n.Alerts))
	pruned.WithLabelValues("notifications").Add(float64(n.Notifications))
	if n.Alerts > 0 {
		s.log.Info("deleted resolved alerts past retention", "alerts", n.Alerts, "notifications", n.Notifications,
			"alert_retention", s.o.Retention.Alerts.String())
	}
	if err != nil && ctx.Err() == nil {
		s.log.Error("deleting alerts past retention; trying again later", "err", err)
	}
}
