package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lookout-synthetics/lookout/controller/internal/api"
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
}

func newMetrics(st *store.Store) *metrics {
	return &metrics{
		dispatched: prometheus.NewCounter(prometheus.CounterOpts{Name: "lookout_runs_dispatched_total", Help: "Runs published to checkpoints by the scheduler."}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lookout_run_results_total", Help: "Run results stored, by outcome and error class."},
			[]string{"outcome", "error_class"}),
		open: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "lookout_runs_open", Help: "Runs dispatched or running, not yet done."},
			func() float64 { return float64(st.OpenRunCount()) }),
		secrets: api.NewSecretMetrics(),
	}
}

func (m *metrics) observe(res *pb.RunResult) {
	m.results.WithLabelValues(res.Outcome.String(), res.ErrorClass.String()).Inc()
}

func (m *metrics) collectors() []prometheus.Collector {
	cs := append([]prometheus.Collector{m.dispatched, m.results, m.open}, m.secrets.Collectors()...)
	if m.vault != nil {
		cs = append(cs, m.vault)
	}
	if m.fleet != nil {
		cs = append(cs, m.fleet)
	}
	return cs
}
