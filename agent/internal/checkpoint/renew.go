package checkpoint

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/lookout-synthetics/lookout/agent/internal/identity"
)

// retireAfter is how long a connection opened with the previous certificate stays open after a
// renewal, so that calls in flight on it finish.
const retireAfter = 30 * time.Second

// renewIfDue renews the agent's client certificate once less than a third of its lifetime is left,
// then moves gRPC and NATS onto connections that present the new one. A failed renewal is retried
// at the next heartbeat; a certificate that expired meanwhile ends the agent with ErrExpired.
func (a *Agent) renewIfDue(ctx context.Context, nc *nats.Conn) error {
	now := time.Now()
	due, notAfter, err := a.id.RenewDue(now)
	if err != nil || !due {
		return nil
	}
	if !now.Before(notAfter) {
		return fmt.Errorf("%w (it expired at %s)", identity.ErrExpired, notAfter.UTC().Format(time.RFC3339))
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	next, err := a.id.Renew(cctx, a.api())
	if err != nil {
		a.log.Warn("certificate renewal failed; retrying at the next heartbeat", "expires", notAfter, "err", err)
		return nil
	}
	rc, err := a.connect()
	if err != nil {
		a.log.Warn("reconnecting after renewal", "err", err)
		return nil
	}
	old := a.rpc.Swap(rc)
	time.AfterFunc(retireAfter, old.close)
	if nc != nil {
		_ = nc.ForceReconnect()
	}
	a.log.Info("renewed the agent certificate", "expires", next.UTC().Format(time.RFC3339))
	return nil
}
