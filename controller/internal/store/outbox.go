package store

import (
	"errors"
	"time"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Outbox buckets: every notification, the index of those still to deliver, and each alert's.
var (
	bOutbox        = []byte("outbox")              // notification id → Notification
	bOutboxPending = []byte("outbox_pending")      // notification id → channel name
	bAlertNotes    = []byte("alert_notifications") // alert id + "/" + notification id → nil
)

// Enqueue stores a new notification as pending, in the caller's transaction: the state change that
// causes it and the notification are durable together.
func (a AlertTx) Enqueue(n *pb.Notification) error {
	if err := a.put(bOutbox, n.Id, n); err != nil {
		return err
	}
	pending, err := a.bucket(bOutboxPending)
	if err != nil {
		return err
	}
	if err := pending.Put([]byte(n.Id), []byte(n.Channel)); err != nil {
		return err
	}
	notes, err := a.bucket(bAlertNotes)
	if err != nil {
		return err
	}
	return notes.Put([]byte(n.AlertId+"/"+n.Id), nil)
}

// Notification returns one notification.
func (a AlertTx) Notification(id string) (*pb.Notification, error) {
	n := &pb.Notification{}
	return n, a.get(bOutbox, id, n)
}

// PutNotification stores a notification after a delivery attempt; one no longer pending leaves
// the pending index. A notification deleted meanwhile (its alert went past --alert-retention while
// the attempt was in flight) stays deleted: the attempt is not stored.
func (a AlertTx) PutNotification(n *pb.Notification) error {
	if err := a.get(bOutbox, n.Id, &pb.Notification{}); errors.Is(err, ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if err := a.put(bOutbox, n.Id, n); err != nil {
		return err
	}
	if n.State == pb.NotificationState_NOTIFICATION_STATE_PENDING {
		return nil
	}
	pending, err := a.bucket(bOutboxPending)
	if err != nil {
		return err
	}
	return pending.Delete([]byte(n.Id))
}

// Pending calls fn with every pending notification (id order, which is creation order).
func (a AlertTx) Pending(fn func(*pb.Notification) error) error {
	var ids []string
	if err := a.forEach(bOutboxPending, func(k, _ []byte) error { ids = append(ids, string(k)); return nil }); err != nil {
		return err
	}
	for _, id := range ids {
		n, err := a.Notification(id)
		if err != nil {
			return err
		}
		if err := fn(n); err != nil {
			return err
		}
	}
	return nil
}

// AlertNotifications returns an alert's notifications in creation order.
func (a AlertTx) AlertNotifications(alertID string) ([]*pb.Notification, error) {
	b, err := a.bucket(bAlertNotes)
	if err != nil || b == nil {
		return nil, err
	}
	var out []*pb.Notification
	prefix := []byte(alertID + "/")
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && len(k) > len(prefix) && string(k[:len(prefix)]) == string(prefix); k, _ = c.Next() {
		n, err := a.Notification(string(k[len(prefix):]))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// NewNotificationID returns a webhook-id: "msg_" and a time-ordered unique suffix.
func NewNotificationID(at time.Time) string { return newIDAt("msg_", at) }

// NewAlertID returns a time-ordered alert id.
func NewAlertID(at time.Time) string { return newIDAt("alt_", at) }
