package store

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// TestPausedSurvivesApplyAndReopen: pausing does not bump the definition's version, applying the
// same or a changed file keeps the monitor paused, and the state survives a reopen.
func TestPausedSurvivesApplyAndReopen(t *testing.T) {
	s, _, _, dir := tokenFixture(t)
	def := &pb.Monitor{Name: "orders", Interval: durationpb.New(time.Minute), Checkpoints: []string{"site-a"},
		Steps: []*pb.Step{{Name: "get", Request: &pb.HttpRequest{Url: "https://api.example/orders"}}}}
	if _, _, _, err := s.PutMonitor(def); err != nil {
		t.Fatal(err)
	}
	m, changed, err := s.SetMonitorPaused("orders", true)
	if err != nil || !changed || !m.Paused || m.Version != 1 {
		t.Fatalf("pause: %v changed=%v paused=%v version=%d", err, changed, m.GetPaused(), m.GetVersion())
	}
	if _, changed, _ := s.SetMonitorPaused("orders", true); changed {
		t.Error("pausing a paused monitor reported a change")
	}
	if stored, _, changed, err := s.PutMonitor(def); err != nil || changed || !stored.Paused {
		t.Fatalf("re-apply: %v changed=%v paused=%v", err, changed, stored.GetPaused())
	}
	def.Steps[0].Name = "list"
	if stored, _, changed, err := s.PutMonitor(def); err != nil || !changed || !stored.Paused || stored.Version != 2 {
		t.Fatalf("apply a change: %v changed=%v paused=%v version=%d", err, changed, stored.GetPaused(), stored.GetVersion())
	}
	s.Close()
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if m, err := s2.Monitor("orders"); err != nil || !m.Paused {
		t.Fatalf("after reopen: %v paused=%v", err, m.GetPaused())
	}
	if _, _, err := s2.SetMonitorPaused("nope", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("pausing a missing monitor: %v, want ErrNotFound", err)
	}
}
