package scheduler

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

func names(ms []*pb.Monitor) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

func TestDueFollowsIntervalsAndSync(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := New(Options{Now: func() time.Time { return now }})
	a := &pb.Monitor{Id: "a", Name: "a", Interval: durationpb.New(time.Minute)}
	b := &pb.Monitor{Id: "b", Name: "b", Interval: durationpb.New(10 * time.Second)}
	s.Sync([]*pb.Monitor{a, b})

	steps := []struct {
		at   time.Duration
		want []string
	}{
		{0, []string{"a", "b"}},
		{5 * time.Second, nil},
		{10 * time.Second, []string{"b"}},
		{60 * time.Second, []string{"a", "b"}},
		// a long stall: each monitor runs once, not once per missed interval
		{10 * time.Minute, []string{"a", "b"}},
		{10*time.Minute + time.Second, nil},
	}
	for _, st := range steps {
		got := names(s.due(now.Add(st.at)))
		if len(got) == 2 && got[0] > got[1] {
			got[0], got[1] = got[1], got[0]
		}
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Errorf("due at +%v (-want +got):\n%s", st.at, diff)
		}
	}

	s.Sync([]*pb.Monitor{b})
	if s.Len() != 1 {
		t.Errorf("after removing a monitor, Len = %d, want 1", s.Len())
	}
	paused := &pb.Monitor{Id: "b", Name: "b", Interval: durationpb.New(10 * time.Second), Paused: true}
	s.Sync([]*pb.Monitor{paused})
	if s.Len() != 0 {
		t.Errorf("a paused monitor is still scheduled")
	}
}

// TestUpsertMatchesSync: one monitor's update does what a full Sync would for it and leaves the
// others alone: a new one is due now, a changed one keeps its next time within its new interval,
// a paused one leaves the schedule and comes back when resumed.
func TestUpsertMatchesSync(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := New(Options{Now: func() time.Time { return now }})
	a := &pb.Monitor{Id: "a", Name: "a", Interval: durationpb.New(time.Hour)}
	s.Sync([]*pb.Monitor{a})
	if got := names(s.due(now)); len(got) != 1 {
		t.Fatalf("due at start: %v", got)
	}
	b := &pb.Monitor{Id: "b", Name: "b", Interval: durationpb.New(time.Hour)}
	s.Upsert(b)
	if got := names(s.due(now)); len(got) != 1 || got[0] != "b" || s.Len() != 2 {
		t.Fatalf("after Upsert of a new monitor, due %v, Len %d; want b alone due and both kept", got, s.Len())
	}
	// a's interval shrinks to 10 s: its next run moves up from +1h to within 10 s.
	s.Upsert(&pb.Monitor{Id: "a", Name: "a", Interval: durationpb.New(10 * time.Second)})
	if got := names(s.due(now.Add(10 * time.Second))); len(got) != 1 || got[0] != "a" {
		t.Errorf("after shrinking a's interval, due at +10s: %v", got)
	}
	s.Upsert(&pb.Monitor{Id: "b", Name: "b", Interval: durationpb.New(time.Hour), Paused: true})
	if s.Len() != 1 {
		t.Errorf("a paused monitor is still scheduled (Len %d)", s.Len())
	}
	s.Upsert(b)
	if s.Len() != 2 {
		t.Errorf("a resumed monitor is not scheduled again (Len %d)", s.Len())
	}
}
