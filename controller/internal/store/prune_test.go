package store

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

func TestIDTimeReadsNewID(t *testing.T) {
	before := time.Now().Truncate(time.Millisecond)
	got, ok := IDTime(NewID("run_"))
	if !ok || got.Before(before) || got.After(time.Now()) {
		t.Fatalf("IDTime(NewID) = %v %v, want a time from %v to now", got, ok, before)
	}
	for _, id := range []string{"run-1", "", "run_zzzzzzzzzzzzzzzzzzzzzzzz"} {
		if _, ok := IDTime(id); ok {
			t.Errorf("IDTime(%q) claims a time", id)
		}
	}
}

// TestPruneDeletesOnlyWhatIsPastRetention: a run and its result stored before the retention go,
// with old audit entries; an old run still open, an old run whose result came in recently, newer
// runs and newer entries stay; the agent's clock counts for nothing; a zero retention keeps
// everything; a prune with nothing to delete writes nothing.
func TestPruneDeletesOnlyWhatIsPastRetention(t *testing.T) {
	s, now, _ := runFixture(t)
	today := *now
	day := 24 * time.Hour
	at := func(ago time.Duration) *pb.Run {
		c := today.Add(-ago)
		return &pb.Run{RunId: newIDAt("run_", c), MonitorId: "mon-1", MonitorName: "orders", CheckpointId: "cp-1", CheckpointName: "paris",
			Attempt: 1, State: pb.RunState_RUN_STATE_DISPATCHED, ScheduledAt: timestamppb.New(c), Deadline: timestamppb.New(today.Add(time.Hour))}
	}
	oldDone, oldOpen, lateDone, newDone := at(40*day), at(40*day), at(40*day), at(day)
	if err := s.CreateRuns([]*pb.Run{oldDone, oldOpen, lateDone, newDone}); err != nil {
		t.Fatal(err)
	}
	// complete stores r's result at the controller's time storedAgo ago, with an agent clock
	// claiming the opposite of the truth.
	complete := func(r *pb.Run, storedAgo time.Duration) {
		t.Helper()
		*now = today.Add(-storedAgo)
		defer func() { *now = today }()
		if _, err := s.ClaimRun(r.RunId, 1, agentA); err != nil {
			t.Fatal(err)
		}
		agentClock := today.Add(-400 * day)
		if storedAgo > 30*day {
			agentClock = today
		}
		if _, _, err := s.CompleteRun(&pb.RunResult{RunId: r.RunId, Attempt: 1, Outcome: pb.Outcome_OUTCOME_PASSED, FinishedAt: timestamppb.New(agentClock)}, agentA); err != nil {
			t.Fatal(err)
		}
	}
	complete(oldDone, 39*day)
	complete(lateDone, day) // a long run, or a late report: its result is recent
	complete(newDone, day)
	for _, e := range []AuditEntry{{Time: today.Add(-100 * day), Actor: "admin", Action: "old"}, {Time: today.Add(-day), Actor: "admin", Action: "new"}} {
		if err := s.Audit(e); err != nil {
			t.Fatal(err)
		}
	}

	if got, err := s.Prune(t.Context(), Retention{}, today); err != nil || got.Total() != 0 {
		t.Fatalf("prune with no retention: %+v %v, want nothing deleted", got, err)
	}
	got, err := s.Prune(t.Context(), Retention{Runs: 30 * day, Audit: 90 * day}, today)
	if err != nil || got != (Pruned{Runs: 1, Results: 1, Audit: 1}) {
		t.Fatalf("prune: %+v %v, want the old done run, its result and the old audit entry", got, err)
	}
	if _, err := s.Run(oldDone.RunId); !errors.Is(err, ErrNotFound) {
		t.Errorf("the old finished run: %v, want deleted", err)
	}
	for _, r := range []*pb.Run{oldOpen, lateDone, newDone} {
		if _, err := s.Run(r.RunId); err != nil {
			t.Errorf("run %s was deleted: %v", r.RunId, err)
		}
	}
	var kept []string
	if err := s.Results(0, func(res *pb.RunResult) bool { kept = append(kept, res.RunId); return true }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(kept) != fmt.Sprint([]string{lateDone.RunId, newDone.RunId}) {
		t.Errorf("results kept: %v, want the late and the new run's", kept)
	}
	log, err := s.AuditLog()
	if err != nil || len(log) != 1 || log[0].Action != "new" {
		t.Errorf("audit log kept: %+v %v, want the new entry only", log, err)
	}

	fileWrites := func() int64 { st := s.DB().Stats(); return st.TxStats.GetWrite() }
	writes := fileWrites()
	if got, err := s.Prune(t.Context(), Retention{Runs: 30 * day, Audit: 90 * day}, today); err != nil || got.Total() != 0 {
		t.Fatalf("second prune: %+v %v, want nothing", got, err)
	}
	if fileWrites() != writes {
		t.Error("a prune with nothing to delete wrote to the file")
	}
}

// TestPruneWorksThroughABacklogInChunks: more old runs than one transaction takes are all deleted,
// in transactions of at most pruneChunk deletions of each kind, and newer runs are not.
func TestPruneWorksThroughABacklogInChunks(t *testing.T) {
	s, now, _ := runFixture(t)
	today := *now
	n := 2*pruneChunk + 17
	var runs []*pb.Run
	var ids []string
	for i := range n + 5 {
		ago := 40 * 24 * time.Hour
		if i >= n {
			ago = time.Hour
		}
		c := today.Add(-ago).Add(time.Duration(i) * time.Millisecond)
		runs = append(runs, &pb.Run{RunId: newIDAt("run_", c), CheckpointId: "cp-1", Attempt: 1, State: pb.RunState_RUN_STATE_DISPATCHED,
			ScheduledAt: timestamppb.New(c), Deadline: timestamppb.New(today.Add(time.Hour))})
		ids = append(ids, runs[i].RunId)
	}
	if err := s.CreateRuns(runs); err != nil {
		t.Fatal(err)
	}
	end := func(ids []string, at time.Time) {
		t.Helper()
		*now = at
		defer func() { *now = today }()
		res := make([]*pb.RunResult, len(ids))
		for i := range res {
			res[i] = &pb.RunResult{Outcome: pb.Outcome_OUTCOME_ERROR, Message: "ended by the test"}
		}
		if _, err := s.EndRuns(ids, res); err != nil {
			t.Fatal(err)
		}
	}
	end(ids[:n], today.Add(-35*24*time.Hour))
	end(ids[n:], today.Add(-time.Hour))
	var commits []int
	s.ObserveCommits(func(writes int, _ time.Duration) { commits = append(commits, writes) })
	got, err := s.Prune(t.Context(), Retention{Runs: 24 * time.Hour}, today)
	if err != nil || got != (Pruned{Runs: n, Results: n}) {
		t.Fatalf("prune: %+v %v, want %d runs and results", got, err, n)
	}
	if len(commits) < 3 {
		t.Errorf("%d runs pruned in %d transactions, want chunks of at most %d", n, len(commits), pruneChunk)
	}
	left := 0
	if err := s.Results(0, func(*pb.RunResult) bool { left++; return true }); err != nil || left != 5 {
		t.Fatalf("%d results left (%v), want the 5 newer ones", left, err)
	}
}
