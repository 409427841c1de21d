package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lookout-synthetics/lookout/controller/internal/api"
	"github.com/lookout-synthetics/lookout/controller/internal/collect"
	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

type metrics struct {
	dispatched prometheus.Counter
	results    *prometheus.CounterVec
	open       prometheus.GaugeFunc
	vault      prometheus.Collector // certificate expiry; nil without a vault
	secrets    *api.SecretMetrics
	fleet      prometheus.Collector
	commits    prometheus.Histogram // seconds per group commit
	writes     prometheus.Histogram // writes per group commit
	pruned     *prometheus.CounterVec
	alerting   []prometheus.Collector // alerting.go
	probes     *collect.ProbeSeries   // per-monitor × checkpoint probe_* series
	extra      []prometheus.Collector // the OTLP exporter's drops
}

func newMetrics(st *store.Store) *metrics {
	m := &metrics{
		dispatched: prometheus.NewCounter(prometheus.CounterOpts{Name: "lookout_runs_dispatched_total", Help: "Runs published to checkpoints by the scheduler."}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lookout_run_results_total", Help: "Run results stored, by outcome and error class."},
			[]string{"outcome", "error_class"}),
		open: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "lookout_runs_open", Help: "Runs dispatched or running, not yet done."},
			func() float64 { return float64(st.OpenRunCount()) }),
		secrets: api.NewSecretMetrics(),
		commits: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lookout_store_commit_seconds",
			Help:    "Time per group commit of the run table, results, audit and monitors (writes and fsync).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14)}),
		writes: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lookout_store_commit_writes",
			Help:    "Write calls sharing one group commit (a dispatcher round of runs is one call).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10)}),
		pruned: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lookout_store_pruned_total",
			Help: "Records deleted past retention: finished runs, results, audit entries, rollups, resolved alerts and their notifications."}, []string{"kind"}),
	}
	st.ObserveCommits(func(n int, took time.Duration) {
		m.commits.Observe(took.Seconds())
		m.writes.Observe(float64(n))
	})
	return m
}

func (m *metrics) observe(res *pb.RunResult) {
	m.results.WithLabelValues(res.Outcome.String(), res.ErrorClass.String()).Inc()
}

func (m *metrics) collectors() []prometheus.Collector {
	cs := append([]prometheus.Collector{m.dispatched, m.results, m.open, m.commits, m.writes, m.pruned}, m.secrets.Collectors()...)
	if m.vault != nil {
		cs = append(cs, m.vault)
	}
	if m.fleet != nil {
		cs = append(cs, m.fleet)
	}
	cs = append(cs, m.alerting...)
	return append(cs, m.extra...)
}
