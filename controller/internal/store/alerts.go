package store

import (
	"bytes"
	"fmt"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Alerting buckets. They are made on the first write that needs them, so a data file from before
// alerting opens unchanged; a read finds a missing bucket empty.
var (
	bAlertStates = []byte("alert_states") // monitor id → MonitorAlertState
	bAlerts      = []byte("alerts")       // alert id (time-ordered) → Alert
	bAlertsOpen  = []byte("alerts_open")  // monitor id → its open alert's id
)

// AlertTx is the alerting state inside one transaction: read-only in ViewAlerting, writable in
// UpdateAlerting and in the result hook. It lives only as long as its transaction.
type AlertTx struct{ tx *bolt.Tx }

// ResultHook is called inside the transaction that stores each result (after it is stored), so
// that the monitor's alerting state, and the notifications it queues, are durable together with
// the result or not at all. Like every group write it may run more than once: it must be a pure
// function of the transaction and the result.
type ResultHook func(AlertTx, *pb.RunResult) error

type hookHolder struct{ fn atomic.Pointer[ResultHook] }

// OnResult sets the hook closeRun calls for every result it stores; nil removes it.
func (s *Store) OnResult(fn ResultHook) {
	if fn == nil {
		s.hooks.fn.Store(nil)
		return
	}
	s.hooks.fn.Store(&fn)
}

func (s *Store) runHook(tx *bolt.Tx, res *pb.RunResult) error {
	if h := s.hooks.fn.Load(); h != nil {
		return (*h)(AlertTx{tx}, res)
	}
	return nil
}

// UpdateAlerting runs fn in a group-committed write transaction (it may run more than once).
func (s *Store) UpdateAlerting(fn func(AlertTx) error) error {
	return s.group.update(func(tx *bolt.Tx) error { return fn(AlertTx{tx}) })
}

// ViewAlerting runs fn in a read transaction.
func (s *Store) ViewAlerting(fn func(AlertTx) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return fn(AlertTx{tx}) })
}

// bucket returns the named bucket, making it in a write transaction; nil in a read transaction
// of a file that has none yet.
func (a AlertTx) bucket(name []byte) (*bolt.Bucket, error) {
	if b := a.tx.Bucket(name); b != nil || !a.tx.Writable() {
		return b, nil
	}
	return a.tx.CreateBucketIfNotExists(name)
}

func (a AlertTx) get(name []byte, key string, m proto.Message) error {
	b, err := a.bucket(name)
	if err != nil {
		return err
	}
	if b == nil {
		return ErrNotFound
	}
	return getProto(b, key, m)
}

func (a AlertTx) put(name []byte, key string, m proto.Message) error {
	b, err := a.bucket(name)
	if err != nil {
		return err
	}
	return putProto(b, key, m)
}

func (a AlertTx) forEach(name []byte, fn func(k, v []byte) error) error {
	b, err := a.bucket(name)
	if err != nil || b == nil {
		return err
	}
	return b.ForEach(fn)
}

// Monitor returns a monitor by id; ErrNotFound when it was deleted.
func (a AlertTx) Monitor(id string) (*pb.Monitor, error) {
	m := &pb.Monitor{}
	if err := getProto(a.tx.Bucket(bMonitors), id, m); err != nil {
		return nil, err
	}
	return m, nil
}

// MonitorByName returns a monitor by name.
func (a AlertTx) MonitorByName(name string) (*pb.Monitor, error) {
	id := a.tx.Bucket(bMonitorNames).Get([]byte(name))
	if id == nil {
		return nil, fmt.Errorf("monitor %q: %w", name, ErrNotFound)
	}
	return a.Monitor(string(id))
}

// State returns a monitor's alerting state; a monitor never seen gets a fresh ok state.
func (a AlertTx) State(monitorID string) (*pb.MonitorAlertState, error) {
	st := &pb.MonitorAlertState{}
	err := a.get(bAlertStates, monitorID, st)
	if err == ErrNotFound {
		return &pb.MonitorAlertState{MonitorId: monitorID, State: pb.MonitorState_MONITOR_STATE_OK}, nil
	}
	return st, err
}

// PutState stores a monitor's alerting state.
func (a AlertTx) PutState(st *pb.MonitorAlertState) error {
	return a.put(bAlertStates, st.MonitorId, st)
}

// States calls fn with every monitor's stored alerting state.
func (a AlertTx) States(fn func(*pb.MonitorAlertState) error) error {
	return a.forEach(bAlertStates, func(_, v []byte) error {
		st := &pb.MonitorAlertState{}
		if err := proto.Unmarshal(v, st); err != nil {
			return err
		}
		return fn(st)
	})
}

// Alert returns an alert by id.
func (a AlertTx) Alert(id string) (*pb.Alert, error) {
	al := &pb.Alert{}
	if err := a.get(bAlerts, id, al); err != nil {
		return nil, fmt.Errorf("alert %s: %w", id, err)
	}
	return al, nil
}

// PutAlert stores an alert and keeps the index of open alerts by monitor.
func (a AlertTx) PutAlert(al *pb.Alert) error {
	stored := proto.Clone(al).(*pb.Alert)
	stored.Notifications = nil // read APIs fill them from the outbox
	if err := a.put(bAlerts, al.Id, stored); err != nil {
		return err
	}
	open, err := a.bucket(bAlertsOpen)
	if err != nil {
		return err
	}
	if al.Status == pb.AlertStatus_ALERT_STATUS_OPEN {
		return open.Put([]byte(al.MonitorId), []byte(al.Id))
	}
	if bytes.Equal(open.Get([]byte(al.MonitorId)), []byte(al.Id)) {
		return open.Delete([]byte(al.MonitorId))
	}
	return nil
}

// OpenAlerts calls fn with every open alert.
func (a AlertTx) OpenAlerts(fn func(*pb.Alert) error) error {
	var ids []string
	if err := a.forEach(bAlertsOpen, func(_, v []byte) error { ids = append(ids, string(v)); return nil }); err != nil {
		return err
	}
	for _, id := range ids {
		al, err := a.Alert(id)
		if err != nil {
			return err
		}
		if err := fn(al); err != nil {
			return err
		}
	}
	return nil
}

// Alerts calls fn with alerts newest first until it returns false.
func (a AlertTx) Alerts(fn func(*pb.Alert) bool) error {
	b, err := a.bucket(bAlerts)
	if err != nil || b == nil {
		return err
	}
	c := b.Cursor()
	for k, v := c.Last(); k != nil; k, v = c.Prev() {
		al := &pb.Alert{}
		if err := proto.Unmarshal(v, al); err != nil {
			return err
		}
		if !fn(al) {
			return nil
		}
	}
	return nil
}
