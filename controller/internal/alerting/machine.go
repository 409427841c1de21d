package alerting

import (
	"errors"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Event types, as the webhook body names them.
const (
	TypeOpened    = "alert.opened"
	TypeEscalated = "alert.escalated"
	TypeReminder  = "alert.reminder"
	TypeResolved  = "alert.resolved"
	TypeTest      = "test"
)

// change is one monitor's alerting state being changed inside a write transaction. Everything it
// writes goes into that transaction: the state, the alert and the notifications they cause.
type change struct {
	tx      store.AlertTx
	m       *pb.Monitor
	st      *pb.MonitorAlertState
	al      *pb.Alert // the open alert, if any
	now     time.Time
	cause   string             // the run whose result caused the change; empty for a timer
	pending []*pb.Notification // queued by this change; written by save
}

// load reads m's state and open alert.
func load(tx store.AlertTx, m *pb.Monitor, now time.Time) (*change, error) {
	st, err := tx.State(m.Id)
	if err != nil {
		return nil, err
	}
	c := &change{tx: tx, m: m, st: st, now: now}
	st.MonitorName = m.Name
	if st.AlertId != "" {
		if c.al, err = tx.Alert(st.AlertId); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	return c, nil
}

// result applies one agent's result; it says whether anything changed.
func (c *change) result(res *pb.RunResult) bool {
	c.cause = res.RunId
	cs := c.status(res.CheckpointName)
	failed := res.Outcome != pb.Outcome_OUTCOME_PASSED
	if !failed && !cs.Failed && c.st.State == pb.MonitorState_MONITOR_STATE_OK {
		return false // the usual case: nothing to write
	}
	prev := cs.ConsecutiveFailures
	cs.Failed, cs.At = failed, timestamppb.New(c.now)
	cs.ActedScheduledAt, cs.ActedRunId = timestamppb.New(store.OrderOf(res).At), res.RunId
	cs.RunId, cs.Message, cs.ConsecutiveFailures = "", "", 0
	if failed {
		cs.RunId, cs.Message, cs.ConsecutiveFailures = res.RunId, failureMessage(res), prev+1
	}
	c.keepCheckpoints()
	if c.st.State == pb.MonitorState_MONITOR_STATE_DOWN {
		c.whileDown(failed)
	} else {
		c.beforeConfirmed(res.RunId, cs)
	}
	return true
}

// status finds (or adds) the status of a checkpoint.
func (c *change) status(checkpoint string) *pb.CheckpointAlertStatus {
	for _, cs := range c.st.Checkpoints {
		if cs.Checkpoint == checkpoint {
			return cs
		}
	}
	cs := &pb.CheckpointAlertStatus{Checkpoint: checkpoint}
	c.st.Checkpoints = append(c.st.Checkpoints, cs)
	return cs
}

// keepCheckpoints forgets checkpoints the monitor no longer runs on.
func (c *change) keepCheckpoints() {
	c.st.Checkpoints = slices.DeleteFunc(c.st.Checkpoints, func(cs *pb.CheckpointAlertStatus) bool {
		return !slices.Contains(c.m.Checkpoints, cs.Checkpoint)
	})
}

// failing lists the checkpoints whose latest run failed.
func (c *change) failing() []string {
	var out []string
	for _, cs := range c.st.Checkpoints {
		if cs.Failed {
			out = append(out, cs.Checkpoint)
		}
	}
	return out
}

// beforeConfirmed handles a result while the monitor is ok or unconfirmed.
func (c *change) beforeConfirmed(runID string, cs *pb.CheckpointAlertStatus) {
	failing := c.failing()
	if len(failing) == 0 {
		c.setState(pb.MonitorState_MONITOR_STATE_OK)
		c.st.ConfirmFor = ""
		return
	}
	if c.confirmed(failing, cs) {
		c.open(failing)
		return
	}
	if c.st.State == pb.MonitorState_MONITOR_STATE_OK {
		c.setState(pb.MonitorState_MONITOR_STATE_UNCONFIRMED)
		c.st.ConfirmFor = runID // the engine dispatches confirmation runs once this is durable
	}
}

// confirmed says whether the failures confirm an error. With one checkpoint, its confirmation run
// (a second failure in a row) confirms.
func (c *change) confirmed(failing []string, cs *pb.CheckpointAlertStatus) bool {
	if len(c.m.Checkpoints) <= 1 {
		return cs.ConsecutiveFailures >= 2
	}
	return len(failing) >= confirmNeeded(c.m)
}

func (c *change) setState(s pb.MonitorState) {
	if c.st.State != s {
		c.st.State, c.st.Since = s, timestamppb.New(c.now)
	}
}

// open opens an alert and fires the levels already due.
func (c *change) open(failing []string) {
	started := c.now
	if c.st.State == pb.MonitorState_MONITOR_STATE_UNCONFIRMED && c.st.Since != nil {
		started = c.st.Since.AsTime()
	}
	var failed int32
	var first *pb.CheckpointAlertStatus
	for _, cs := range c.st.Checkpoints {
		if cs.Failed {
			failed += cs.ConsecutiveFailures
			if first == nil || cs.At.AsTime().Before(first.At.AsTime()) {
				first = cs
			}
		}
	}
	c.al = &pb.Alert{
		Id: store.NewAlertID(c.now), MonitorId: c.m.Id, MonitorName: c.m.Name, Status: pb.AlertStatus_ALERT_STATUS_OPEN,
		StartedAt: timestamppb.New(started), ConfirmedAt: timestamppb.New(c.now), CheckpointsFailing: failing,
		Message: first.GetMessage(), RunId: c.cause, FailedRuns: failed,
	}
	c.setState(pb.MonitorState_MONITOR_STATE_DOWN)
	c.st.AlertId, c.st.ConfirmFor = c.al.Id, ""
	c.fireDue()
}

// whileDown handles a result while an alert is open.
func (c *change) whileDown(failed bool) {
	if c.al == nil { // lost its alert (should not happen): start again
		c.setState(pb.MonitorState_MONITOR_STATE_OK)
		c.st.AlertId = ""
		return
	}
	failing := c.failing()
	if len(failing) == 0 {
		c.resolve()
		return
	}
	c.al.CheckpointsFailing = failing
	if failed {
		c.al.FailedRuns++
		c.al.Message = c.latestMessage()
	}
	c.fireDue()
}

func (c *change) latestMessage() string {
	var latest *pb.CheckpointAlertStatus
	for _, cs := range c.st.Checkpoints {
		if cs.Failed && (latest == nil || cs.At.AsTime().After(latest.At.AsTime())) {
			latest = cs
		}
	}
	if latest == nil {
		return c.al.Message
	}
	return latest.Message
}

// fireDue fires every level that is due and has not fired, and the reminders that are due; while
// muted it sends nothing (a level due then fires when the mute ends).
func (c *change) fireDue() {
	if c.al == nil || mutedAt(c.st, c.now) {
		return
	}
	levels := c.m.GetAlerting().GetEscalations()
	for len(c.al.LevelNotifiedAt) < len(levels) {
		c.al.LevelNotifiedAt = append(c.al.LevelNotifiedAt, &timestamppb.Timestamp{}) // not fired yet
	}
	for i, lvl := range levels {
		last := c.al.LevelNotifiedAt[i]
		switch {
		case !fired(last) && levelDue(lvl, c.al, c.now):
			typ := TypeEscalated
			if c.al.Level == 0 {
				typ = TypeOpened
			}
			c.al.Level = max(c.al.Level, int32(i+1))
			c.notifyLevel(i, lvl, typ)
		case fired(last) && reminderDue(lvl, last.AsTime(), c.now):
			c.notifyLevel(i, lvl, TypeReminder)
		}
	}
}

func (c *change) notifyLevel(i int, lvl *pb.EscalationLevel, typ string) {
	c.al.LevelNotifiedAt[i] = timestamppb.New(c.now)
	for _, ch := range lvl.Notify {
		c.enqueue(ch, typ, int32(i+1))
		if !slices.Contains(c.al.NotifiedChannels, ch) {
			c.al.NotifiedChannels = append(c.al.NotifiedChannels, ch)
		}
	}
}

// resolve closes the alert: every checkpoint's latest run passed.
func (c *change) resolve() {
	c.al.Status, c.al.ResolvedAt, c.al.CheckpointsFailing = pb.AlertStatus_ALERT_STATUS_RESOLVED, timestamppb.New(c.now), nil
	c.setState(pb.MonitorState_MONITOR_STATE_OK)
	c.st.AlertId = ""
	if !c.m.GetAlerting().GetNotifyRecovery() || mutedAt(c.st, c.now) {
		return
	}
	for _, ch := range c.al.NotifiedChannels {
		c.enqueue(ch, TypeResolved, c.al.Level)
	}
}

// enqueue records a notification for the write to store with the state.
func (c *change) enqueue(channel, typ string, level int32) {
	ev := &pb.Event{Type: typ, AlertId: c.al.Id, Monitor: c.m.Name, State: "down", Level: level,
		CheckpointsFailing: c.al.CheckpointsFailing, StartedAt: c.al.StartedAt, ResolvedAt: c.al.ResolvedAt,
		Message: c.al.Message, RunId: c.al.RunId}
	if typ == TypeResolved {
		ev.State = "ok"
	}
	now := timestamppb.New(c.now)
	c.pending = append(c.pending, &pb.Notification{Id: store.NewNotificationID(c.now), AlertId: c.al.Id, Channel: channel, Event: ev,
		State: pb.NotificationState_NOTIFICATION_STATE_PENDING, CreatedAt: now, NextAttemptAt: now, StateStoredAt: now})
}

// save writes the state, the alert and the notifications.
func (c *change) save() error {
	if len(c.pending) > 0 {
		c.st.NotifiedBy = c.cause
	}
	if err := c.tx.PutState(c.st); err != nil {
		return err
	}
	if c.al != nil {
		if err := c.tx.PutAlert(c.al); err != nil {
			return err
		}
	}
	for _, n := range c.pending {
		if err := c.tx.Enqueue(n); err != nil {
			return err
		}
	}
	return nil
}
