package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// endRunAt records a run of monitor orders from checkpoint cp and ends it with outcome, started at
// start and lasting d, the way the controller ends runs it refuses.
func endRunAt(t *testing.T, s *Store, cp string, n int, start time.Time, d time.Duration, outcome pb.Outcome, class pb.ErrorClass) *pb.RunResult {
	t.Helper()
	r := &pb.Run{RunId: fmt.Sprintf("run-%s-%d", cp, n), MonitorId: "mon-1", MonitorName: "orders", CheckpointId: "id-" + cp, CheckpointName: cp,
		Attempt: 1, State: pb.RunState_RUN_STATE_DISPATCHED, ScheduledAt: timestamppb.New(start), Deadline: timestamppb.New(start.Add(time.Minute))}
	if err := s.CreateRuns([]*pb.Run{r}); err != nil {
		t.Fatal(err)
	}
	res, err := s.EndRun(r.RunId, &pb.RunResult{Outcome: outcome, ErrorClass: class, StartedAt: timestamppb.New(start), FinishedAt: timestamppb.New(start.Add(d))})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Results on both sides of an hour boundary land in two rollups, written with the results; the
// counts match the raw results, Lookout's own errors are counted apart, and the latest-result index
// names the last result of each checkpoint.
func TestRollupsFollowResultsAcrossAnHourBoundary(t *testing.T) {
	s, now, _ := runFixture(t)
	h := now.Truncate(time.Hour)
	passed, failed := pb.Outcome_OUTCOME_PASSED, pb.Outcome_OUTCOME_FAILED
	endRunAt(t, s, "paris", 1, h.Add(58*time.Minute), 120*time.Millisecond, passed, 0)
	endRunAt(t, s, "paris", 2, h.Add(59*time.Minute+50*time.Second), 20*time.Millisecond, failed, pb.ErrorClass_ERROR_CLASS_HTTP)
	endRunAt(t, s, "paris", 3, h.Add(61*time.Minute), 3*time.Second, passed, 0)
	endRunAt(t, s, "paris", 4, h.Add(62*time.Minute), 0, pb.Outcome_OUTCOME_ERROR, pb.ErrorClass_ERROR_CLASS_CHECKPOINT_UNAVAILABLE)
	last := endRunAt(t, s, "oslo", 1, h.Add(63*time.Minute), 40*time.Millisecond, passed, 0)

	got, err := s.Rollups("orders", "paris", h.Add(-24*time.Hour), h.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	b := func(ms ...int64) []int64 {
		out := make([]int64, len(RollupBounds)+1)
		for _, m := range ms {
			out[bucketOf(m)]++
		}
		return out
	}
	want := []Rollup{
		{Monitor: "orders", Checkpoint: "paris", Hour: h, Runs: 2, Failures: 1, DurationMs: 140, Buckets: b(120, 20)},
		{Monitor: "orders", Checkpoint: "paris", Hour: h.Add(time.Hour), Runs: 2, LookoutErrors: 1, DurationMs: 3000, Buckets: b(3000)},
	}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("rollups (-got +want):\n%s", d)
	}

	latest, err := s.LatestResults("orders", func(m, cp string) bool { return cp == "oslo" })
	if err != nil || len(latest) != 1 || latest[0].RunId != last.RunId {
		t.Fatalf("latest of oslo = %v, %v; want %s", latest, err, last.RunId)
	}

	// Past retention (counted from the hour's start), the first hour goes and the second stays.
	n, err := s.PruneRollups(t.Context(), 90*time.Minute, h.Add(100*time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("PruneRollups = %d, %v; want 1", n, err)
	}
	left, _ := s.Rollups("orders", "paris", h.Add(-24*time.Hour), h.Add(2*time.Hour))
	oslo, _ := s.Rollups("orders", "oslo", h.Add(-24*time.Hour), h.Add(2*time.Hour))
	if len(left) != 1 || !left[0].Hour.Equal(h.Add(time.Hour)) || len(oslo) != 1 {
		t.Errorf("after pruning: paris %v, oslo %v", left, oslo)
	}
}

// A late result that replaces an "agent lost" expiry takes the expiry's place in its rollup: the run
// counts once.
func TestLateResultReplacesTheExpiryInItsRollup(t *testing.T) {
	s, now, r := runFixture(t)
	if _, err := s.ClaimRun(r.RunId, 1, agentA); err != nil {
		t.Fatal(err)
	}
	*now = now.Add(2 * time.Minute)
	if _, err := s.ExpireRuns(*now); err != nil {
		t.Fatal(err)
	}
	start := r.ScheduledAt.AsTime()
	late := &pb.RunResult{RunId: r.RunId, Attempt: 1, Outcome: pb.Outcome_OUTCOME_PASSED, StartedAt: timestamppb.New(start), FinishedAt: timestamppb.New(start.Add(time.Second))}
	if _, _, err := s.CompleteRun(late, agentA); err != nil {
		t.Fatal(err)
	}
	got, err := s.Rollups("orders", "paris", start.Add(-time.Hour), start.Add(time.Hour))
	if err != nil || len(got) != 1 {
		t.Fatalf("rollups = %v, %v", got, err)
	}
	if g := got[0]; g.Runs != 1 || g.LookoutErrors != 0 || g.Failures != 0 || g.DurationMs != 1000 {
		t.Errorf("rollup after the late result = %+v, want one passed run of 1s", g)
	}
}

// A replay from a time starts at the first result stored at or after it.
func TestResultSequenceBeforeFindsTheFirstResultStoredSince(t *testing.T) {
	s, now, _ := runFixture(t)
	t0 := *now
	var seqs []uint64
	for i := range 7 {
		*now = t0.Add(time.Duration(i) * time.Minute)
		seqs = append(seqs, endRunAt(t, s, "paris", i, *now, 0, pb.Outcome_OUTCOME_PASSED, 0).Sequence)
	}
	for _, tc := range []struct {
		since time.Time
		want  uint64
	}{
		{t0.Add(-time.Hour), seqs[0] - 1},
		{t0, seqs[0] - 1},
		{t0.Add(30 * time.Second), seqs[0]},
		{t0.Add(3 * time.Minute), seqs[2]},
		{t0.Add(6 * time.Minute), seqs[5]},
		{t0.Add(time.Hour), seqs[6]},
	} {
		if got, err := s.ResultSequenceBefore(tc.since); err != nil || got != tc.want {
			t.Errorf("ResultSequenceBefore(t0%+v) = %d, %v; want %d", tc.since.Sub(t0), got, err, tc.want)
		}
	}
}
