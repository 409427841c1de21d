package store

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// putAlert stores an alert of monitor mon opened at opened, resolved at resolved (open when
// zero), with one delivered and one pending notification.
func putAlert(t *testing.T, s *Store, mon string, opened, resolved time.Time) string {
	t.Helper()
	al := &pb.Alert{Id: NewAlertID(opened), MonitorId: mon, Status: pb.AlertStatus_ALERT_STATUS_OPEN, StartedAt: timestamppb.New(opened)}
	if !resolved.IsZero() {
		al.Status, al.ResolvedAt = pb.AlertStatus_ALERT_STATUS_RESOLVED, timestamppb.New(resolved)
	}
	err := s.UpdateAlerting(func(tx AlertTx) error {
		if err := tx.PutAlert(al); err != nil {
			return err
		}
		for _, st := range []pb.NotificationState{pb.NotificationState_NOTIFICATION_STATE_DELIVERED, pb.NotificationState_NOTIFICATION_STATE_PENDING} {
			n := &pb.Notification{Id: NewNotificationID(opened), AlertId: al.Id, Channel: "ops", State: st}
			if err := tx.Enqueue(n); err != nil {
				return err
			}
			if err := tx.PutNotification(n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return al.Id
}

// alertsLeft lists the ids of the stored alerts, oldest first, with how many notifications each
// still has, and how many notifications are pending in all.
func alertsLeft(t *testing.T, s *Store) (map[string]int, int) {
	t.Helper()
	left, pending := map[string]int{}, 0
	err := s.ViewAlerting(func(tx AlertTx) error {
		err := tx.Alerts(func(al *pb.Alert) bool {
			notes, err := tx.AlertNotifications(al.Id)
			if err != nil {
				t.Error(err)
			}
			left[al.Id] = len(notes)
			return true
		})
		if err != nil {
			return err
		}
		return tx.Pending(func(*pb.Notification) error { pending++; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return left, pending
}

// Past retention, counted from when an alert resolved, a resolved alert goes with its
// notifications, pending ones included; an open alert stays however old, and so does one opened
// long ago but resolved inside the retention.
func TestPruneAlertsDeletesResolvedAlertsAndTheirNotifications(t *testing.T) {
	s, _, _ := runFixture(t)
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	old := putAlert(t, s, "mon-1", now.Add(-500*day), now.Add(-499*day))
	openOld := putAlert(t, s, "mon-2", now.Add(-600*day), time.Time{})
	longOutage := putAlert(t, s, "mon-3", now.Add(-450*day), now.Add(-10*day))
	recent := putAlert(t, s, "mon-1", now.Add(-20*day), now.Add(-19*day))

	if got, err := s.PruneAlerts(t.Context(), 0, now); err != nil || got != (PrunedAlerts{}) {
		t.Fatalf("PruneAlerts with retention 0 = %+v, %v; want nothing deleted", got, err)
	}
	got, err := s.PruneAlerts(t.Context(), 400*day, now)
	if err != nil || got != (PrunedAlerts{Alerts: 1, Notifications: 2}) {
		t.Fatalf("PruneAlerts = %+v, %v; want 1 alert and its 2 notifications", got, err)
	}
	left, pending := alertsLeft(t, s)
	if d := cmp.Diff(left, map[string]int{openOld: 2, longOutage: 2, recent: 2}); d != "" {
		t.Errorf("alerts left (id → notifications) (-got +want):\n%s", d)
	}
	if pending != 3 {
		t.Errorf("%d notifications pending, want 3: the deleted alert's pending one goes with it", pending)
	}
	if _, ok := left[old]; ok {
		t.Errorf("alert %s resolved 499 days ago is still there", old)
	}
	var open []string
	if err := s.ViewAlerting(func(tx AlertTx) error {
		return tx.OpenAlerts(func(al *pb.Alert) error { open = append(open, al.Id); return nil })
	}); err != nil || len(open) != 1 || open[0] != openOld {
		t.Errorf("open alerts = %v, %v; want only %s", open, err, openOld)
	}
	if again, err := s.PruneAlerts(t.Context(), 400*day, now); err != nil || again != (PrunedAlerts{}) {
		t.Errorf("second PruneAlerts = %+v, %v; want nothing left to delete", again, err)
	}
}

// A delivery attempt that was in flight while its alert was pruned does not bring its
// notification back: it would be an outbox record with no alert and no index, never pruned.
func TestDeliveryRecordedAfterThePruneStaysDeleted(t *testing.T) {
	s, _, _ := runFixture(t)
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	id := putAlert(t, s, "mon-1", now.Add(-500*day), now.Add(-499*day))
	var inFlight *pb.Notification
	if err := s.ViewAlerting(func(tx AlertTx) error {
		return tx.Pending(func(n *pb.Notification) error { inFlight = n; return nil })
	}); err != nil || inFlight == nil {
		t.Fatalf("no pending notification of alert %s: %v", id, err)
	}
	if got, err := s.PruneAlerts(t.Context(), 400*day, now); err != nil || got.Alerts != 1 {
		t.Fatalf("PruneAlerts = %+v, %v; want the alert deleted", got, err)
	}
	inFlight.State = pb.NotificationState_NOTIFICATION_STATE_DELIVERED
	if err := s.UpdateAlerting(func(tx AlertTx) error { return tx.PutNotification(inFlight) }); err != nil {
		t.Fatal(err)
	}
	if err := s.ViewAlerting(func(tx AlertTx) error {
		_, err := tx.Notification(inFlight.Id)
		return err
	}); !errors.Is(err, ErrNotFound) {
		t.Errorf("the pruned notification after its attempt was recorded: %v, want it still deleted", err)
	}
}

// More resolved alerts than one chunk of the pruner are all deleted, and the open one stays.
func TestPruneAlertsWorksInChunks(t *testing.T) {
	s, _, _ := runFixture(t)
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	n := pruneChunk + 7
	for i := range n {
		putAlert(t, s, "mon-1", now.Add(-500*day+time.Duration(i)*time.Minute), now.Add(-499*day+time.Duration(i)*time.Minute))
	}
	open := putAlert(t, s, "mon-2", now.Add(-600*day), time.Time{})
	got, err := s.PruneAlerts(t.Context(), 400*day, now)
	if err != nil || got != (PrunedAlerts{Alerts: n, Notifications: 2 * n}) {
		t.Fatalf("PruneAlerts = %+v, %v; want %d alerts and %d notifications", got, err, n, 2*n)
	}
	if left, pending := alertsLeft(t, s); len(left) != 1 || left[open] != 2 || pending != 1 {
		t.Errorf("left %v with %d pending; want only the open alert %s with its 2 notifications, 1 pending", left, pending, open)
	}
}
