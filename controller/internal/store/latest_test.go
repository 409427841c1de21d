package store

import (
	"fmt"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// claimAt records a run of monitor orders from paris scheduled at sched and claims it for agentA,
// the way an agent takes a run before it reports.
func claimAt(t *testing.T, s *Store, id string, sched time.Time) {
	t.Helper()
	r := &pb.Run{RunId: id, MonitorId: "mon-1", MonitorName: "orders", CheckpointId: "cp-1", CheckpointName: "paris",
		Attempt: 1, State: pb.RunState_RUN_STATE_DISPATCHED, ScheduledAt: timestamppb.New(sched), Deadline: timestamppb.New(sched.Add(time.Hour))}
	if err := s.CreateRuns([]*pb.Run{r}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimRun(id, 1, agentA); err != nil {
		t.Fatal(err)
	}
}

func report(t *testing.T, s *Store, id string, outcome pb.Outcome, started time.Time) *pb.RunResult {
	t.Helper()
	res, _, err := s.CompleteRun(&pb.RunResult{RunId: id, Attempt: 1, Outcome: outcome,
		StartedAt: timestamppb.New(started), FinishedAt: timestamppb.New(started.Add(time.Second))}, agentA)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func latestRun(t *testing.T, s *Store) string {
	t.Helper()
	latest, err := s.LatestResults("orders", func(_, cp string) bool { return cp == "paris" })
	if err != nil || len(latest) != 1 {
		t.Fatalf("latest of orders @ paris = %v, %v; want one result", latest, err)
	}
	return latest[0].RunId
}

// An agent cut off from the controller spools its results and reports them late: a result of a run
// scheduled before the series' latest is stored and counted in its rollup, but does not become the
// latest, whatever the agent's clock says its run started at.
func TestLateResultDoesNotMoveLatestBackwards(t *testing.T) {
	s, now, _ := runFixture(t)
	t0 := now.Add(time.Minute)
	for i := range 3 {
		claimAt(t, s, fmt.Sprintf("run-%d", i), t0.Add(time.Duration(i)*time.Minute))
	}
	report(t, s, "run-2", pb.Outcome_OUTCOME_PASSED, t0.Add(2*time.Minute))
	// The late ones' agent clock runs an hour fast: the controller's schedule decides, not it.
	late := report(t, s, "run-0", pb.Outcome_OUTCOME_FAILED, t0.Add(time.Hour))
	report(t, s, "run-1", pb.Outcome_OUTCOME_FAILED, t0.Add(time.Hour))
	if got := latestRun(t, s); got != "run-2" {
		t.Errorf("latest after late reports = %s, want run-2 (scheduled last)", got)
	}
	if !late.ScheduledAt.AsTime().Equal(t0) {
		t.Errorf("stored result's scheduled_at = %v, want the run's %v", late.ScheduledAt.AsTime(), t0)
	}
	var runs, failures int64
	rs, err := s.Rollups("orders", "paris", t0.Add(-2*time.Hour), t0.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		runs, failures = runs+r.Runs, failures+r.Failures
	}
	if runs != 3 || failures != 2 {
		t.Errorf("rollups count %d runs, %d failures; want 3 and 2: a late result still counts", runs, failures)
	}
}

// Two runs scheduled at the same instant: the latest is the one with the greater run id, in
// whichever order they arrive.
func TestLatestTieIsBrokenByRunIDInAnyArrivalOrder(t *testing.T) {
	for name, order := range map[string][]string{"in order": {"run-a", "run-b"}, "reversed": {"run-b", "run-a"}} {
		t.Run(name, func(t *testing.T) {
			s, now, _ := runFixture(t)
			at := now.Add(time.Minute)
			for _, id := range order {
				claimAt(t, s, id, at)
			}
			for _, id := range order {
				report(t, s, id, pb.Outcome_OUTCOME_PASSED, at)
			}
			if got := latestRun(t, s); got != "run-b" {
				t.Errorf("latest = %s, want run-b", got)
			}
		})
	}
}

// The late result of a run the controller had ended as "agent lost" is the same run: it replaces
// the expiry as the latest.
func TestLateResultOfTheSameRunReplacesItsExpiryAsLatest(t *testing.T) {
	s, now, r := runFixture(t)
	if _, err := s.ClaimRun(r.RunId, 1, agentA); err != nil {
		t.Fatal(err)
	}
	*now = now.Add(2 * time.Minute)
	if _, err := s.ExpireRuns(*now); err != nil {
		t.Fatal(err)
	}
	report(t, s, r.RunId, pb.Outcome_OUTCOME_PASSED, r.ScheduledAt.AsTime())
	latest, err := s.LatestResults("orders", func(string, string) bool { return true })
	if err != nil || len(latest) != 1 || latest[0].Outcome != pb.Outcome_OUTCOME_PASSED {
		t.Fatalf("latest = %v, %v; want the agent's passed result", latest, err)
	}
}

// An entry written before the index held its order (the result's sequence alone, 8 bytes) still
// reads: its order comes from the stored result, so a late result does not replace it and a later
// one does, and the entry is rewritten in the new form.
func TestLatestEntryWithoutItsOrderStillWorks(t *testing.T) {
	s, now, _ := runFixture(t)
	t0 := now.Add(time.Minute)
	for i := range 3 {
		claimAt(t, s, fmt.Sprintf("run-%d", i), t0.Add(time.Duration(i)*time.Minute))
	}
	report(t, s, "run-1", pb.Outcome_OUTCOME_PASSED, t0.Add(time.Minute))
	// Rewrite the entry as an older controller left it: the sequence only.
	if err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bLatest)
		k, v := b.Cursor().First()
		if len(v) < 16 {
			return fmt.Errorf("entry of %d bytes, want the new form to start from", len(v))
		}
		return b.Put(append([]byte(nil), k...), append([]byte(nil), v[:8]...))
	}); err != nil {
		t.Fatal(err)
	}
	if got := latestRun(t, s); got != "run-1" {
		t.Fatalf("latest from an 8-byte entry = %s, want run-1", got)
	}
	report(t, s, "run-0", pb.Outcome_OUTCOME_FAILED, t0)
	if got := latestRun(t, s); got != "run-1" {
		t.Errorf("after a late result, latest = %s, want run-1 (the old entry's order read from its result)", got)
	}
	report(t, s, "run-2", pb.Outcome_OUTCOME_PASSED, t0.Add(2*time.Minute))
	if got := latestRun(t, s); got != "run-2" {
		t.Errorf("after a later result, latest = %s, want run-2", got)
	}
}
