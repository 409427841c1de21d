package server

import (
	"context"
	"time"

	"github.com/lookout-synthetics/lookout/controller/internal/alerting"
	"github.com/lookout-synthetics/lookout/controller/internal/console"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// consoleAlerts shows alerting's alerts in the console and lets an admin session mute a monitor.
type consoleAlerts struct{ engine *alerting.Engine }

var (
	_ console.Alerts = consoleAlerts{}
	_ console.Muter  = consoleAlerts{}
)

func (c consoleAlerts) OpenAlerts(ctx context.Context) ([]console.Alert, error) {
	return c.list(ctx, alerting.AlertFilter{OpenOnly: true})
}

func (c consoleAlerts) MonitorAlerts(ctx context.Context, monitor string) ([]console.Alert, error) {
	return c.list(ctx, alerting.AlertFilter{Monitor: monitor, Limit: 20})
}

func (c consoleAlerts) list(ctx context.Context, f alerting.AlertFilter) ([]console.Alert, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	als, err := c.engine.Alerts(f)
	if err != nil {
		return nil, err
	}
	out := make([]console.Alert, 0, len(als))
	for _, al := range als {
		out = append(out, consoleAlert(al))
	}
	return out, nil
}

func consoleAlert(al *pb.Alert) console.Alert {
	a := console.Alert{ID: al.Id, Monitor: al.MonitorName, State: "down", Level: int(al.Level),
		Checkpoints: al.CheckpointsFailing, StartedAt: al.StartedAt.AsTime(), Message: al.Message}
	if al.Status == pb.AlertStatus_ALERT_STATUS_RESOLVED {
		a.State, a.ResolvedAt = "ok", al.ResolvedAt.AsTime()
	}
	return a
}

func (c consoleAlerts) Mute(_ context.Context, monitor string, d time.Duration, reason string) error {
	_, err := c.engine.Mute(monitor, time.Now().Add(d), reason)
	return err
}

func (c consoleAlerts) Unmute(_ context.Context, monitor string) error {
	_, err := c.engine.Unmute(monitor)
	return err
}
