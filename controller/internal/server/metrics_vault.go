package server

import (
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// vaultExpiry exports lookout_vault_certificate_days_left{item="…"} for every certificate in
// the vault, read at scrape time so replaced and deleted items show at once. Negative values
// mean the certificate has expired.
type vaultExpiry struct {
	list func() ([]*pb.VaultItem, error)
	now  func() time.Time
	desc *prometheus.Desc
}

func newVaultExpiry(list func() ([]*pb.VaultItem, error), now func() time.Time) *vaultExpiry {
	return &vaultExpiry{list: list, now: now, desc: prometheus.NewDesc("lookout_vault_certificate_days_left",
		"Days until the vault certificate's leaf expires (negative once expired).", []string{"item"}, nil)}
}

func (e *vaultExpiry) Describe(ch chan<- *prometheus.Desc) { ch <- e.desc }

func (e *vaultExpiry) Collect(ch chan<- prometheus.Metric) {
	items, err := e.list()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(e.desc, err)
		return
	}
	now := e.now()
	for _, it := range items {
		ci := it.GetCertificate()
		if it.GetType() != pb.VaultItemType_VAULT_ITEM_TYPE_CERTIFICATE || ci.GetNotAfter() == nil {
			continue
		}
		days := ci.GetNotAfter().AsTime().Sub(now).Hours() / 24
		ch <- prometheus.MustNewConstMetric(e.desc, prometheus.GaugeValue, math.Floor(days*100)/100, it.GetName())
	}
}
