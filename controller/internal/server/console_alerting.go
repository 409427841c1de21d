package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/lookout-synthetics/lookout/controller/internal/alerting"
	"github.com/lookout-synthetics/lookout/controller/internal/console"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// consoleAlerts shows alerting's alerts in the console and lets an admin session mute a monitor
// through the same service the CLI calls (its checks and its audit entries).
type consoleAlerts struct {
	engine  *alerting.Engine
	service *alerting.Service
}

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

// States are the monitors' alerting states in the CLI's words (monitor list's ALERTING column).
func (c consoleAlerts) States(ctx context.Context, ms []*pb.Monitor) (map[string]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.engine.StateWords(ms)
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

func (c consoleAlerts) Mute(ctx context.Context, monitor string, d time.Duration, reason string) error {
	_, err := c.service.MuteMonitor(ctx, &pb.MuteMonitorRequest{Name: monitor, For: durationpb.New(d), Reason: reason})
	return err
}

func (c consoleAlerts) Unmute(ctx context.Context, monitor string) error {
	_, err := c.service.UnmuteMonitor(ctx, &pb.UnmuteMonitorRequest{Name: monitor})
	return err
}
