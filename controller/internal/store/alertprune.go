package store

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// PrunedAlerts counts what PruneAlerts deleted.
type PrunedAlerts struct{ Alerts, Notifications int }

// PruneAlerts deletes alerts resolved before now minus retention, oldest first, and their
// notifications (delivered, failed, or still pending: an alert that old will not be delivered).
// An open alert is never deleted, however old. Retention counts from when the alert resolved,
// so a long outage resolved last week keeps its history for the whole retention. It works in
// transactions of at most pruneChunk alerts until nothing is left or ctx ends. Zero retention
// keeps them forever.
func (s *Store) PruneAlerts(ctx context.Context, retention time.Duration, now time.Time) (PrunedAlerts, error) {
	var total PrunedAlerts
	if retention <= 0 {
		return total, nil
	}
	cut := now.Add(-retention)
	for ctx.Err() == nil {
		var due []string
		if err := s.db.View(func(tx *bolt.Tx) error { var err error; due, err = resolvedBefore(tx, cut); return err }); err != nil || len(due) == 0 {
			return total, err
		}
		var n PrunedAlerts
		err := s.group.update(func(tx *bolt.Tx) error {
			n = PrunedAlerts{} // this function may run more than once
			for _, id := range due {
				notes, err := deleteAlert(AlertTx{tx}, id)
				if err != nil {
					return err
				}
				n.Alerts, n.Notifications = n.Alerts+1, n.Notifications+notes
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total.Alerts, total.Notifications = total.Alerts+n.Alerts, total.Notifications+n.Notifications
		if len(due) < pruneChunk {
			return total, nil
		}
	}
	return total, ctx.Err()
}

// resolvedBefore lists up to pruneChunk ids of alerts resolved before cut. Alert ids begin with
// the time the alert opened, and none resolved before it opened: the scan stops at the first
// alert opened at or after cut.
func resolvedBefore(tx *bolt.Tx, cut time.Time) ([]string, error) {
	b := tx.Bucket(bAlerts)
	if b == nil {
		return nil, nil
	}
	var ids []string
	end := []byte(idFloor("alt_", cut))
	c := b.Cursor()
	for k, v := c.First(); k != nil && string(k) < string(end) && len(ids) < pruneChunk; k, v = c.Next() {
		al := &pb.Alert{}
		if err := proto.Unmarshal(v, al); err != nil {
			return nil, err
		}
		if resolvedAt(al, cut) {
			ids = append(ids, string(k))
		}
	}
	return ids, nil
}

// resolvedAt says whether al is resolved, and was before cut.
func resolvedAt(al *pb.Alert, cut time.Time) bool {
	return al.Status == pb.AlertStatus_ALERT_STATUS_RESOLVED && al.ResolvedAt != nil && al.ResolvedAt.AsTime().Before(cut)
}

// idFloor is the smallest id NewID could make at t or later with prefix.
func idFloor(prefix string, t time.Time) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(t.UnixMilli()))
	return prefix + hex.EncodeToString(b[2:])
}

// deleteAlert deletes a resolved alert (its status checked again: the listing was made in another
// transaction, and an alert once resolved is never reopened, so its resolution time stands) and its
// notifications; it returns how many notifications went.
func deleteAlert(a AlertTx, id string) (int, error) {
	al := &pb.Alert{}
	if err := a.get(bAlerts, id, al); errors.Is(err, ErrNotFound) {
		return 0, nil // deleted since it was listed
	} else if err != nil {
		return 0, err
	}
	if al.Status != pb.AlertStatus_ALERT_STATUS_RESOLVED {
		return 0, nil
	}
	notes, err := a.AlertNotifications(id)
	if err != nil {
		return 0, err
	}
	for _, n := range notes {
		for _, del := range []struct{ bucket, key []byte }{{bOutbox, []byte(n.Id)}, {bOutboxPending, []byte(n.Id)}, {bAlertNotes, []byte(id + "/" + n.Id)}} {
			if b := a.tx.Bucket(del.bucket); b != nil {
				if err := b.Delete(del.key); err != nil {
					return 0, err
				}
			}
		}
	}
	return len(notes), a.tx.Bucket(bAlerts).Delete([]byte(id))
}
