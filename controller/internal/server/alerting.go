package server

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/lookout-synthetics/lookout/controller/internal/alerting"
	"github.com/lookout-synthetics/lookout/controller/internal/api"
	"github.com/lookout-synthetics/lookout/controller/internal/dispatcher"
	"github.com/lookout-synthetics/lookout/controller/internal/notify"
	"github.com/lookout-synthetics/lookout/controller/internal/store"
	"github.com/lookout-synthetics/lookout/controller/internal/vault"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// alertingParts are the alert engine, the outbox's deliverer and the AlertService, wired to the
// store (the engine's hook runs in every result's transaction) and, once made, the dispatcher.
type alertingParts struct {
	engine    *alerting.Engine
	deliverer *notify.Deliverer
	service   *alerting.Service
	confirm   *lateConfirmer
}

// lateConfirmer lets the engine exist before the dispatcher it asks for confirmation runs: the
// dispatcher's notify function needs the engine.
type lateConfirmer struct{ d *dispatcher.Dispatcher }

func (l *lateConfirmer) DispatchConfirmation(m *pb.Monitor, names []string) ([]*pb.Run, error) {
	return l.d.DispatchConfirmation(m, names)
}

func newAlerting(st *store.Store, v *vault.Vault, log *slog.Logger, m *metrics) *alertingParts {
	nm := notify.NewMetrics()
	sender := &notify.Sender{HTTP: &http.Client{Timeout: 15 * time.Second}, Secrets: v}
	deliverer := notify.NewDeliverer(notify.Options{Store: st, Sender: sender, Logger: log, Metrics: nm})
	lc := &lateConfirmer{}
	engine := alerting.New(alerting.Options{Store: st, Confirm: lc, Wake: deliverer.Wake, Logger: log})
	m.alerting = append(nm.Collectors(), &alerting.Collector{Engine: engine, Monitors: st.Monitors})
	return &alertingParts{engine: engine, deliverer: deliverer, confirm: lc,
		service: &alerting.Service{Store: st, Engine: engine, Vault: v, Sender: sender}}
}

// run runs the engine and the deliverer until ctx ends, and returns once both stopped.
func (p *alertingParts) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { p.engine.Run(ctx) })
	wg.Go(func() { p.deliverer.Run(ctx) })
	wg.Wait()
}

// What alerting needs from the other parts, checked at compile time.
var (
	_ alerting.Confirmer  = (*dispatcher.Dispatcher)(nil)
	_ alerting.Confirmer  = (*lateConfirmer)(nil)
	_ notify.Secrets      = (*vault.Vault)(nil)
	_ alerting.ItemGetter = (*vault.Vault)(nil)
	_ api.AlertingRefs    = alerting.Refs{}
)
