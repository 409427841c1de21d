package alerting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Confirmer dispatches confirmation runs of a monitor on the named checkpoints.
type Confirmer interface {
	DispatchConfirmation(m *pb.Monitor, checkpoints []string) ([]*pb.Run, error)
}

// Options configure an Engine.
type Options struct {
	Store   *store.Store
	Confirm Confirmer
	// Wake is called once new notifications are durable, to start their delivery.
	Wake   func()
	Logger *slog.Logger
	Now    func() time.Time
	// Tick is how often time-driven levels, reminders and ended mutes are checked; default 500ms.
	Tick time.Duration
}

// Engine keeps every monitor's alerting state. New installs its result hook in the store.
type Engine struct {
	o       Options
	confirm chan confirmation
}

type confirmation struct {
	monitorID string
	runID     string
}

// New returns an Engine and hooks it into the store's result writes.
func New(o Options) *Engine {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Tick <= 0 {
		o.Tick = 500 * time.Millisecond
	}
	if o.Wake == nil {
		o.Wake = func() {}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	e := &Engine{o: o, confirm: make(chan confirmation, 256)}
	o.Store.OnResult(e.onResult)
	return e
}

// onResult is the store's result hook: it runs inside the transaction that stores res.
func (e *Engine) onResult(tx store.AlertTx, res *pb.RunResult) error {
	if res.AgentId == "" {
		return nil // ended by Lookout itself: says nothing about the monitored API
	}
	st, err := tx.State(res.MonitorId)
	if err != nil {
		return err
	}
	if res.Outcome == pb.Outcome_OUTCOME_PASSED && st.State == pb.MonitorState_MONITOR_STATE_OK && !failedOn(st, res.CheckpointName) {
		return nil // the usual case, decided without reading the monitor
	}
	if late, err := reportedLate(tx, st, res); err != nil || late {
		return err // stored and counted in rollups, but what it says is already out of date
	}
	m, err := tx.Monitor(res.MonitorId)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	c, err := load(tx, m, res.StoredAt.AsTime())
	if err != nil {
		return err
	}
	if !c.result(res) {
		return nil
	}
	return c.save()
}

// reportedLate says whether res's run comes before the result the state machine last acted on
// for its checkpoint, or before an agent result stored for its series since (a passing result
// while ok is decided without a write, so the state does not record it): an agent that spooled
// results while cut off reports them late, and they must not flip the state back.
func reportedLate(tx store.AlertTx, st *pb.MonitorAlertState, res *pb.RunResult) (bool, error) {
	for _, cs := range st.Checkpoints {
		if cs.Checkpoint == res.CheckpointName && cs.ActedScheduledAt != nil &&
			store.OrderOf(res).Before(store.RunOrder{At: cs.ActedScheduledAt.AsTime(), RunID: cs.ActedRunId}) {
			return true, nil
		}
	}
	return tx.Superseded(res)
}

func failedOn(st *pb.MonitorAlertState, checkpoint string) bool {
	for _, cs := range st.Checkpoints {
		if cs.Checkpoint == checkpoint {
			return cs.Failed
		}
	}
	return false
}

// Observe is told of every result once it is durable: it starts what the state change asked for
// (confirmation runs, delivery). It never blocks on the network or the disk's commit.
func (e *Engine) Observe(res *pb.RunResult) {
	if res.AgentId == "" {
		return
	}
	var st *pb.MonitorAlertState
	err := e.o.Store.ViewAlerting(func(tx store.AlertTx) error {
		var err error
		st, err = tx.State(res.MonitorId)
		return err
	})
	if err != nil {
		e.o.Logger.Error("reading alerting state", "monitor", res.MonitorName, "err", err)
		return
	}
	if st.NotifiedBy == res.RunId {
		e.o.Wake()
	}
	if st.ConfirmFor == res.RunId && st.State == pb.MonitorState_MONITOR_STATE_UNCONFIRMED {
		select {
		case e.confirm <- confirmation{monitorID: res.MonitorId, runID: res.RunId}:
		default:
			e.o.Logger.Warn("too many confirmations queued; the monitor's next runs will confirm", "monitor", res.MonitorName)
		}
	}
}

// Run checks time-driven levels and reminders every Tick and dispatches confirmation runs, until
// ctx ends.
func (e *Engine) Run(ctx context.Context) {
	t := time.NewTicker(e.o.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-e.confirm:
			e.dispatchConfirmation(c)
		case <-t.C:
			if err := e.Tick(); err != nil {
				e.o.Logger.Error("checking alert levels", "err", err)
			}
		}
	}
}

// dispatchConfirmation runs the monitor again on its other checkpoints (on its only one when it
// has one).
func (e *Engine) dispatchConfirmation(c confirmation) {
	m, err := e.o.Store.Monitor(c.monitorID)
	if err != nil {
		return // deleted since
	}
	var failedOnCp string
	if r, err := e.o.Store.Run(c.runID); err == nil {
		failedOnCp = r.CheckpointName
	}
	others := slices.DeleteFunc(slices.Clone(m.Checkpoints), func(cp string) bool { return cp == failedOnCp })
	if len(others) == 0 {
		others = m.Checkpoints
	}
	if _, err := e.o.Confirm.DispatchConfirmation(m, others); err != nil {
		e.o.Logger.Error("dispatching confirmation runs", "monitor", m.Name, "err", err)
	}
}

// Tick fires the levels and reminders due now, for every open alert, and resolves the alerts of
// deleted monitors.
func (e *Engine) Tick() error {
	now := e.o.Now()
	due, err := e.dueMonitors(now)
	if err != nil || len(due) == 0 {
		return err
	}
	queued := false
	err = e.o.Store.UpdateAlerting(func(tx store.AlertTx) error {
		queued = false
		for _, id := range due {
			q, err := e.tickOne(tx, id, now)
			if err != nil {
				return err
			}
			queued = queued || q
		}
		return nil
	})
	if err == nil && queued {
		e.o.Wake()
	}
	return err
}

// dueMonitors lists, in a read transaction, the monitors with an open alert that has something
// due: a write transaction (and its fsync) every tick would be waste.
func (e *Engine) dueMonitors(now time.Time) ([]string, error) {
	var due []string
	err := e.o.Store.ViewAlerting(func(tx store.AlertTx) error {
		return tx.OpenAlerts(func(al *pb.Alert) error {
			m, err := tx.Monitor(al.MonitorId)
			if errors.Is(err, store.ErrNotFound) {
				due = append(due, al.MonitorId)
				return nil
			} else if err != nil {
				return err
			}
			st, err := tx.State(m.Id)
			if err != nil {
				return err
			}
			if !mutedAt(st, now) && somethingDue(m, al, now) {
				due = append(due, m.Id)
			}
			return nil
		})
	})
	return due, err
}

func somethingDue(m *pb.Monitor, al *pb.Alert, now time.Time) bool {
	for i, lvl := range m.GetAlerting().GetEscalations() {
		var last *timestamppb.Timestamp
		if i < len(al.LevelNotifiedAt) {
			last = al.LevelNotifiedAt[i]
		}
		if (!fired(last) && levelDue(lvl, al, now)) || (fired(last) && reminderDue(lvl, last.AsTime(), now)) {
			return true
		}
	}
	return false
}

// tickOne fires what is due for one monitor; it says whether it queued notifications.
func (e *Engine) tickOne(tx store.AlertTx, monitorID string, now time.Time) (bool, error) {
	m, err := tx.Monitor(monitorID)
	if errors.Is(err, store.ErrNotFound) {
		return false, closeOrphan(tx, monitorID, now)
	} else if err != nil {
		return false, err
	}
	c, err := load(tx, m, now)
	if err != nil || c.al == nil {
		return false, err
	}
	c.fireDue()
	return len(c.pending) > 0, c.save()
}

// closeOrphan resolves, silently, the open alert of a monitor that was deleted.
func closeOrphan(tx store.AlertTx, monitorID string, now time.Time) error {
	st, err := tx.State(monitorID)
	if err != nil || st.AlertId == "" {
		return err
	}
	al, err := tx.Alert(st.AlertId)
	if err != nil {
		return err
	}
	al.Status, al.ResolvedAt = pb.AlertStatus_ALERT_STATUS_RESOLVED, timestamppb.New(now)
	al.Message = "monitor deleted: " + al.Message
	st.State, st.AlertId = pb.MonitorState_MONITOR_STATE_OK, ""
	if err := tx.PutAlert(al); err != nil {
		return err
	}
	return tx.PutState(st)
}

// Mute stops notifications for a monitor until until; runs go on.
func (e *Engine) Mute(name string, until time.Time, reason string) (*pb.MonitorAlertState, error) {
	return e.setMute(name, func(st *pb.MonitorAlertState) {
		st.MutedUntil, st.MuteReason = timestamppb.New(until), reason
	})
}

// Unmute lets notifications go out again; levels that came due meanwhile fire at the next tick.
func (e *Engine) Unmute(name string) (*pb.MonitorAlertState, error) {
	return e.setMute(name, func(st *pb.MonitorAlertState) { st.MutedUntil, st.MuteReason = nil, "" })
}

func (e *Engine) setMute(name string, set func(*pb.MonitorAlertState)) (*pb.MonitorAlertState, error) {
	var out *pb.MonitorAlertState
	err := e.o.Store.UpdateAlerting(func(tx store.AlertTx) error {
		m, err := tx.MonitorByName(name)
		if err != nil {
			return err
		}
		st, err := tx.State(m.Id)
		if err != nil {
			return err
		}
		st.MonitorName = m.Name
		set(st)
		out = decorate(st, m, e.o.Now())
		return tx.PutState(st)
	})
	if err != nil {
		return nil, fmt.Errorf("muting: %w", err)
	}
	return out, nil
}

// decorate fills the read-only fields of a copy of st.
func decorate(st *pb.MonitorAlertState, m *pb.Monitor, now time.Time) *pb.MonitorAlertState {
	out := &pb.MonitorAlertState{MonitorId: st.MonitorId, MonitorName: m.Name, State: st.State, Checkpoints: st.Checkpoints,
		AlertId: st.AlertId, MutedUntil: st.MutedUntil, MuteReason: st.MuteReason, Since: st.Since,
		Muted: mutedAt(st, now), Paused: m.Paused}
	if !out.Muted {
		out.MutedUntil, out.MuteReason = nil, ""
	}
	return out
}
