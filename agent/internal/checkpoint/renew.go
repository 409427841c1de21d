package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lookout-synthetics/lookout/agent/internal/identity"
)

// retireAfter is how long a connection opened with the previous certificate stays open after a
// renewal, so that calls in flight on it finish.
const retireAfter = 30 * time.Second

// renewIfDue renews the agent's client certificate once two thirds of its lifetime have passed,
// then moves gRPC and NATS onto connections that present the new one. A failed renewal is retried
// at the next heartbeat; a certificate that expired meanwhile ends the agent with ErrExpired.
func (a *Agent) renewIfDue(ctx context.Context, runs **runFeed) error {
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
	*runs = a.resubscribe(ctx, *runs)
	a.log.Info("renewed the agent certificate", "expires", next.UTC().Format(time.RFC3339))
	return nil
}

// resubscribe opens a NATS connection with the renewed certificate and subscribes on it before it
// drains the old one: a run published meanwhile reaches one of the two subscriptions of the queue
// group, and the old one hands over what it already received. Should the new connection fail,
// the old one stays; NATS closes it when its certificate expires, and it reconnects presenting the
// renewed certificate.
func (a *Agent) resubscribe(ctx context.Context, old *runFeed) *runFeed {
	next, err := a.subscribe(ctx)
	if err == nil && !next.nc.IsConnected() {
		next.nc.Close()
		err = errors.New("NATS is not reachable")
	}
	if err != nil {
		a.log.Warn("moving NATS onto the renewed certificate; keeping the old connection until it expires", "err", err)
		return old
	}
	if err := old.nc.Drain(); err != nil {
		old.nc.Close()
	}
	return next
}
