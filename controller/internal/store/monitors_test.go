package store

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
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

// TestMonitorsGenerationMovesOnChanges: caches derived from the monitors (the items each
// checkpoint's monitors use) rely on the generation changing after every committed change, and
// only then.
func TestMonitorsGenerationMovesOnChanges(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := &pb.Monitor{Name: "orders", Interval: durationpb.New(time.Minute), Checkpoints: []string{"paris"}}
	steps := []struct {
		what   string
		do     func() error
		change bool
	}{
		{"create", func() error { _, _, _, err := s.PutMonitor(m); return err }, true},
		{"apply unchanged", func() error { _, _, _, err := s.PutMonitor(m); return err }, false},
		{"apply changed", func() error {
			c := proto.Clone(m).(*pb.Monitor)
			c.Checkpoints = []string{"paris", "lyon"}
			_, _, _, err := s.PutMonitor(c)
			return err
		}, true},
		{"pause", func() error { _, _, err := s.SetMonitorPaused("orders", true); return err }, true},
		{"pause again", func() error { _, _, err := s.SetMonitorPaused("orders", true); return err }, false},
		{"delete", func() error { return s.DeleteMonitor("orders") }, true},
	}
	for _, st := range steps {
		before := s.MonitorsGeneration()
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.what, err)
		}
		if moved := s.MonitorsGeneration() != before; moved != st.change {
			t.Errorf("%s: generation moved = %v, want %v", st.what, moved, st.change)
		}
	}
}

// BenchmarkMonitors10k is what every heartbeat of an agent holding secrets used to pay before the
// items each checkpoint uses were cached: reading and decoding all 10,000 monitors.
func BenchmarkMonitors10k(b *testing.B) {
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := range 10000 {
		m := &pb.Monitor{Name: fmt.Sprintf("m-%05d", i), Interval: durationpb.New(time.Minute), Checkpoints: []string{"paris"},
			Steps: []*pb.Step{{Name: "get", Request: &pb.HttpRequest{Method: "GET", Url: "https://api.example/orders"}}}}
		if _, _, _, err := s.PutMonitor(m); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if ms, err := s.Monitors(); err != nil || len(ms) != 10000 {
			b.Fatal(len(ms), err)
		}
	}
}

// TestMonitorLookupsNeverCross is issue 18 item 1: a reference shaped like an id finds the monitor
// with that id and never one named so; a name finds that name and never an id; MonitorByID takes
// ids only. Pausing and deleting resolve references the same way.
func TestMonitorLookupsNeverCross(t *testing.T) {
	s, _, _, _ := tokenFixture(t)
	put := func(name string) *pb.Monitor {
		t.Helper()
		m, _, _, err := s.PutMonitor(&pb.Monitor{Name: name, Checkpoints: []string{"site-a"},
			Steps: []*pb.Step{{Name: "get", Request: &pb.HttpRequest{Url: "https://api.example/" + name}}}})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	real := put("orders")
	impostor := put(real.Id) // a name shaped like the first monitor's id
	for _, tc := range []struct {
		ref    string
		lookup func(string) (*pb.Monitor, error)
		want   *pb.Monitor // nil: not found
	}{
		{real.Id, s.Monitor, real},
		{"orders", s.Monitor, real},
		{real.Id, s.MonitorByID, real},
		{"orders", s.MonitorByID, nil},
		{impostor.Id, s.MonitorByID, impostor},
	} {
		got, err := tc.lookup(tc.ref)
		switch {
		case tc.want == nil && !errors.Is(err, ErrNotFound):
			t.Errorf("lookup of %q: %v, %v; want not found", tc.ref, got.GetName(), err)
		case tc.want != nil && (err != nil || got.Id != tc.want.Id):
			t.Errorf("lookup of %q: monitor %q (%v), want %q", tc.ref, got.GetName(), err, tc.want.Name)
		}
	}
	if m, _, err := s.SetMonitorPaused(real.Id, true); err != nil || m.Id != real.Id {
		t.Errorf("pausing by id paused %v (%v), want %s", m.GetName(), err, real.Id)
	}
	if err := s.DeleteMonitor(real.Id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Monitor(impostor.Name); !errors.Is(err, ErrNotFound) {
		t.Errorf("after deleting %s by id, its namesake is looked up by id too: %v, want not found", real.Id, err)
	}
	if _, err := s.MonitorByID(impostor.Id); err != nil {
		t.Errorf("deleting %s by id deleted the monitor named so: %v", real.Id, err)
	}
}
