package alerting

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Collector exports lookout_alerts_open and lookout_monitor_state{monitor,state}, read from the
// store at each scrape, so series of deleted monitors disappear with them.
type Collector struct {
	Engine   *Engine
	Monitors func() ([]*pb.Monitor, error)
}

var (
	openDesc  = prometheus.NewDesc("lookout_alerts_open", "Alerts open now (confirmed, not yet resolved).", nil, nil)
	stateDesc = prometheus.NewDesc("lookout_monitor_state", "1 for each monitor's current alerting state (ok, unconfirmed, down, muted, paused), 0 for the others.",
		[]string{"monitor", "state"}, nil)
	stateWords = []string{"ok", "unconfirmed", "down", "muted", "paused"}
)

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) { ch <- openDesc; ch <- stateDesc }

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(openDesc, prometheus.GaugeValue, float64(c.Engine.OpenCount()))
	ms, err := c.Monitors()
	if err != nil {
		return
	}
	states, err := c.Engine.States(ms)
	if err != nil {
		return
	}
	for _, st := range states {
		now := StateWord(st)
		for _, w := range stateWords {
			v := 0.0
			if w == now {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(stateDesc, prometheus.GaugeValue, v, st.MonitorName, w)
		}
	}
}

// StateWord is the one word for a monitor's state: paused and muted win over the rest.
func StateWord(st *pb.MonitorAlertState) string {
	switch {
	case st.Paused:
		return "paused"
	case st.Muted:
		return "muted"
	}
	w := strings.ToLower(strings.TrimPrefix(st.State.String(), "MONITOR_STATE_"))
	if w == "unspecified" {
		return "ok"
	}
	return w
}

var _ prometheus.Collector = (*Collector)(nil)
