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
