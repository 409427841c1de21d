package server

import (
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// fleetStatus exports, at scrape time, how many agent instances each checkpoint has in each state
// (online, offline, revoked; a checkpoint with none shows zeros, so an alert on "no instance
// online" fires for it too) and how many days each live instance's certificate has left.
type fleetStatus struct {
	st        *store.Store
	now       func() time.Time
	online    time.Duration // an instance seen within this window is online
	instances *prometheus.Desc
	certDays  *prometheus.Desc
}

func newFleetStatus(st *store.Store, now func() time.Time, online time.Duration) *fleetStatus {
	return &fleetStatus{st: st, now: now, online: online,
		instances: prometheus.NewDesc("lookout_checkpoint_instances",
			"Agent instances of a checkpoint by state: online (heartbeat within the window), offline, revoked.",
			[]string{"checkpoint", "kind", "state"}, nil),
		certDays: prometheus.NewDesc("lookout_agent_certificate_days_left",
			"Days until an agent instance's client certificate expires (negative once expired).",
			[]string{"checkpoint", "agent"}, nil),
	}
}

func (f *fleetStatus) Describe(ch chan<- *prometheus.Desc) { ch <- f.instances; ch <- f.certDays }

func (f *fleetStatus) Collect(ch chan<- prometheus.Metric) {
	cps, agents, err := f.st.Checkpoints()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(f.instances, err)
		return
	}
	now := f.now()
	byID := map[string]*pb.Checkpoint{}
	counts := map[string]map[string]int{}
	for _, cp := range cps {
		byID[cp.Id] = cp
		counts[cp.Id] = map[string]int{"online": 0, "offline": 0, "revoked": 0}
	}
	for _, ag := range agents {
		cp := byID[ag.CheckpointID]
		if cp == nil {
			continue
		}
		state := "offline"
		switch {
		case ag.Revoked:
			state = "revoked"
		case now.Sub(ag.LastSeen) < f.online:
			state = "online"
		}
		counts[cp.Id][state]++
		if !ag.Revoked && !ag.CertNotAfter.IsZero() {
			days := ag.CertNotAfter.Sub(now).Hours() / 24
			ch <- prometheus.MustNewConstMetric(f.certDays, prometheus.GaugeValue, math.Floor(days*100)/100, cp.Name, ag.ID)
		}
	}
	for _, cp := range cps {
		kind := store.KindName(cp.Kind)
		for state, n := range counts[cp.Id] {
			ch <- prometheus.MustNewConstMetric(f.instances, prometheus.GaugeValue, float64(n), cp.Name, kind, state)
		}
	}
}
