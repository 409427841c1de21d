package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// TestFleetStatusGauges: over a real store, instances count as online while heard from within the
// window, offline after, revoked once revoked; a checkpoint with no instance shows zeros; live
// instances have a certificate-days gauge.
func TestFleetStatusGauges(t *testing.T) {
	t.Parallel()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	site, _ := st.EnsureCheckpoint("site-a", pb.CheckpointKind_CHECKPOINT_KIND_PRIVATE)
	if _, err := st.EnsureCheckpoint("empty", pb.CheckpointKind_CHECKPOINT_KIND_PUBLIC); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i, tok := range []string{"lkt_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1", "lkt_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2"} {
		if err := st.CreateToken(tok, site.Id, time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, err := st.RedeemToken(tok, store.Agent{ID: fmt.Sprint("ag_", i), CertNotAfter: start.Add(72 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.TouchAgent(fmt.Sprint("ag_", i), "test", 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	now := start
	reg := prometheus.NewRegistry()
	reg.MustRegister(newFleetStatus(st, func() time.Time { return now }, 30*time.Second))
	read := func() (map[string]float64, map[string]float64) {
		t.Helper()
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		states, days := map[string]float64{}, map[string]float64{}
		for _, f := range families {
			for _, m := range f.GetMetric() {
				l := map[string]string{}
				for _, p := range m.GetLabel() {
					l[p.GetName()] = p.GetValue()
				}
				switch f.GetName() {
				case "lookout_checkpoint_instances":
					states[l["checkpoint"]+"/"+l["state"]] = m.GetGauge().GetValue()
				case "lookout_agent_certificate_days_left":
					days[l["agent"]] = m.GetGauge().GetValue()
				}
			}
		}
		return states, days
	}
	states, days := read()
	if states["site-a/online"] != 2 || states["site-a/offline"] != 0 || states["empty/online"] != 0 {
		t.Errorf("fresh heartbeats: %v", states)
	}
	if _, ok := states["empty/offline"]; !ok {
		t.Errorf("a checkpoint without instances has no series: %v", states)
	}
	if d := days["ag_0"]; d < 2.9 || d > 3.01 {
		t.Errorf("certificate days left = %v, want about 3", d)
	}
	now = start.Add(time.Minute)
	if states, _ = read(); states["site-a/offline"] != 2 || states["site-a/online"] != 0 {
		t.Errorf("a minute without heartbeats: %v", states)
	}
	if _, err := st.RevokeCheckpoint(site.Id); err != nil {
		t.Fatal(err)
	}
	states, days = read()
	if states["site-a/revoked"] != 2 || states["site-a/offline"] != 0 || len(days) != 0 {
		t.Errorf("after revoke: states %v, certificate gauges %v", states, days)
	}
}
