package server

import (
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/bbolt"

	"github.com/lookout-synthetics/lookout/controller/internal/vault"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// TestVaultExpiryGauge registers the expiry collector over a real vault and checks the gauge
// per certificate item, and that credential sets and deleted items have none.
func TestVaultExpiryGauge(t *testing.T) {
	t.Parallel()
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "lookout.db"), 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	key := make([]byte, vault.MasterKeySize)
	v, err := vault.Open(vault.Options{DB: db, MasterKey: key})
	if err != nil {
		t.Fatal(err)
	}
	ca := testutil.NewCA(t, "gauge CA")
	leaf := ca.Issue(t, "gauge-client", false)
	for _, name := range []string{"cert-a", "cert-b"} {
		if _, _, err := v.AddCertificate(name, "", leaf.PKCS12(t, ca, "pw"), "pw"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.AddCredentials("creds", "", "u", "p"); err != nil {
		t.Fatal(err)
	}
	if err := v.Delete("cert-b"); err != nil {
		t.Fatal(err)
	}
	now := leaf.Cert.NotAfter.Add(-36 * time.Hour) // 1.5 days left
	reg := prometheus.NewRegistry()
	reg.MustRegister(newVaultExpiry(v.List, func() time.Time { return now }))
	gauges := func() map[string]float64 {
		t.Helper()
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, f := range families {
			if f.GetName() != "lookout_vault_certificate_days_left" {
				continue
			}
			for _, m := range f.GetMetric() {
				got[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
			}
		}
		return got
	}
	got := gauges()
	if len(got) != 1 || math.Abs(got["cert-a"]-1.5) > 0.011 {
		t.Errorf("gauges = %v, want only cert-a at 1.5 days", got)
	}
	now = leaf.Cert.NotAfter.Add(48 * time.Hour)
	if got := gauges(); got["cert-a"] > -1.99 || got["cert-a"] < -2.01 {
		t.Errorf("after expiry the gauge is %v, want -2", got["cert-a"])
	}
}
