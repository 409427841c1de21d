package alerting

import (
	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// States returns every monitor's alerting state, in the order of ms (a monitor with no stored
// state is ok).
func (e *Engine) States(ms []*pb.Monitor) ([]*pb.MonitorAlertState, error) {
	now := e.o.Now()
	out := make([]*pb.MonitorAlertState, 0, len(ms))
	err := e.o.Store.ViewAlerting(func(tx store.AlertTx) error {
		for _, m := range ms {
			st, err := tx.State(m.Id)
			if err != nil {
				return err
			}
			out = append(out, decorate(st, m, now))
		}
		return nil
	})
	return out, err
}

// StateWords maps each monitor's id to its alerting state in the words of the CLI's monitor
// list ALERTING column (StateWord), as the web console shows it.
func (e *Engine) StateWords(ms []*pb.Monitor) (map[string]string, error) {
	sts, err := e.States(ms)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(sts))
	for i, st := range sts {
		out[ms[i].Id] = StateWord(st)
	}
	return out, nil
}

// AlertFilter selects alerts.
type AlertFilter struct {
	OpenOnly bool
	Monitor  string // name; empty = all
	Limit    int    // newest first; 0 = 100
}

// Alerts returns alerts newest first, each with its notifications and their delivery state.
func (e *Engine) Alerts(f AlertFilter) ([]*pb.Alert, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	var out []*pb.Alert
	err := e.o.Store.ViewAlerting(func(tx store.AlertTx) error {
		var walkErr error
		err := tx.Alerts(func(al *pb.Alert) bool {
			if (f.OpenOnly && al.Status != pb.AlertStatus_ALERT_STATUS_OPEN) || (f.Monitor != "" && al.MonitorName != f.Monitor) {
				return true
			}
			al.Notifications, walkErr = tx.AlertNotifications(al.Id)
			out = append(out, al)
			return walkErr == nil && len(out) < f.Limit
		})
		if err != nil {
			return err
		}
		return walkErr
	})
	return out, err
}

// OpenCount is the number of open alerts.
func (e *Engine) OpenCount() int {
	n := 0
	_ = e.o.Store.ViewAlerting(func(tx store.AlertTx) error {
		return tx.OpenAlerts(func(*pb.Alert) error { n++; return nil })
	})
	return n
}
