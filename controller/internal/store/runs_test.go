package store

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// CreateRuns records new runs (state dispatched) and waits until they are durable; the
// dispatcher uses QueueRuns directly.
func (s *Store) CreateRuns(runs []*pb.Run) error {
	wait, err := s.QueueRuns(runs, nil)
	if err != nil {
		return err
	}
	_, err = wait()
	return err
}

// runFixture opens a real bbolt file in a temp dir with a clock the test moves, and creates one
// dispatched run of checkpoint cp-1 with a deadline a minute ahead.
func runFixture(t *testing.T) (*Store, *time.Time, *pb.Run) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	r := &pb.Run{RunId: "run-1", MonitorId: "mon-1", MonitorName: "orders", CheckpointId: "cp-1", CheckpointName: "paris",
		Attempt: 1, State: pb.RunState_RUN_STATE_DISPATCHED, ScheduledAt: timestamppb.New(now), Deadline: timestamppb.New(now.Add(time.Minute))}
	if err := s.CreateRuns([]*pb.Run{r}); err != nil {
		t.Fatal(err)
	}
	return s, &now, r
}

var (
	agentA = Agent{ID: "agt-a", CheckpointID: "cp-1"}
	agentB = Agent{ID: "agt-b", CheckpointID: "cp-1"}
	other  = Agent{ID: "agt-x", CheckpointID: "cp-2"}
)

func TestCompleteRunStoresOnceAndAcknowledgesARepeat(t *testing.T) {
	s, _, r := runFixture(t)
	if _, err := s.ClaimRun(r.RunId, 1, agentA); err != nil {
		t.Fatal(err)
	}
	res := &pb.RunResult{RunId: r.RunId, Attempt: 1, Outcome: pb.Outcome_OUTCOME_PASSED}
	first, dup, err := s.CompleteRun(res, agentA)
	if err != nil || dup {
		t.Fatalf("first report: dup=%v err=%v", dup, err)
	}
	again, dup, err := s.CompleteRun(res, agentA)
	if err != nil || !dup || again.Sequence != first.Sequence {
		t.Fatalf("repeated report: dup=%v err=%v seq %d vs %d", dup, err, again.GetSequence(), first.Sequence)
	}
	n := 0
	_ = s.Results(0, func(*pb.RunResult) bool { n++; return true })
	if n != 1 {
		t.Fatalf("results stored = %d, want 1", n)
	}
	if s.OpenRunCount() != 0 {
		t.Fatalf("run still open after its result")
	}
}

func TestRunOwnership(t *testing.T) {
	s, _, r := runFixture(t)
	// Another checkpoint's agent hears what it would hear for a run that does not exist.
	_, err := s.ClaimRun(r.RunId, 1, other)
	_, missing := s.ClaimRun("run_000000000000000000000000", 1, other)
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrOtherCheckpoint) || errors.Is(missing, ErrOtherCheckpoint) {
		t.Fatalf("claim by another checkpoint: %v, want ErrNotFound marked ErrOtherCheckpoint", err)
	}
	if strings.ReplaceAll(err.Error(), r.RunId, "ID") != strings.ReplaceAll(missing.Error(), "run_000000000000000000000000", "ID") {
		t.Fatalf("another checkpoint's run answers %q, a missing run %q: a caller can tell them apart", err, missing)
	}
	if _, _, err := s.CompleteRun(&pb.RunResult{RunId: r.RunId, Attempt: 1}, other); !errors.Is(err, ErrNotFound) {
		t.Fatalf("report by another checkpoint: %v, want ErrNotFound", err)
	}
	if _, err := s.ClaimRun(r.RunId, 2, agentA); !errors.Is(err, ErrNotYours) {
		t.Fatalf("claim of a wrong attempt: %v, want ErrNotYours", err)
	}
	if _, _, err := s.CompleteRun(&pb.RunResult{RunId: r.RunId, Attempt: 1}, agentA); !errors.Is(err, ErrNotYours) {
		t.Fatalf("report before claim: %v, want ErrNotYours", err)
	}
	if _, err := s.ClaimRun(r.RunId, 1, agentA); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimRun(r.RunId, 1, agentB); !errors.Is(err, ErrNotYours) {
		t.Fatalf("second instance claiming: %v, want ErrNotYours", err)
	}
	if _, _, err := s.CompleteRun(&pb.RunResult{RunId: r.RunId, Attempt: 1}, agentB); !errors.Is(err, ErrNotYours) {
		t.Fatalf("report by the instance that did not claim: %v, want ErrNotYours", err)
	}
}

// A report that arrives after the run expired must be refused as closed, not acknowledged as a
// duplicate of the controller's own "agent lost" result.
func TestLateReportAfterAgentLostIsStoredOnceFromTheClaimingAgentOnly(t *testing.T) {
	s, now, r := runFixture(t)
	if _, err := s.ClaimRun(r.RunId, 1, agentA); err != nil {
		t.Fatal(err)
	}
	ended, err := s.ExpireRuns(now.Add(2 * time.Minute))
	if err != nil || len(ended) != 1 {
		t.Fatalf("expire: %d ended, err %v", len(ended), err)
	}
	if ended[0].ErrorClass != pb.ErrorClass_ERROR_CLASS_AGENT_LOST || ended[0].AgentId != "" {
		t.Fatalf("expiry result: class %v agent %q", ended[0].ErrorClass, ended[0].AgentId)
	}
	// Another instance of the checkpoint, or the wrong attempt: refused, the expiry result stays.
	if _, dup, err := s.CompleteRun(&pb.RunResult{RunId: r.RunId, Attempt: 1, Outcome: pb.Outcome_OUTCOME_PASSED}, agentB); !errors.Is(err, ErrNotYours) || dup {
		t.Fatalf("late report from another instance: dup=%v err=%v, want ErrNotYours", dup, err)
	}
	if _, dup, err := s.CompleteRun(&pb.RunResult{RunId: r.RunId, Attempt: 2, Outcome: pb.Outcome_OUTCOME_PASSED}, agentA); !errors.Is(err, ErrNotYours) || dup {
		t.Fatalf("late report for another attempt: dup=%v err=%v, want ErrNotYours", dup, err)
	}
	// The claiming agent's late report replaces the expiry result, under the next sequence.
	late, dup, err := s.CompleteRun(&pb.RunResult{RunId: r.RunId, Attempt: 1, Outcome: pb.Outcome_OUTCOME_PASSED}, agentA)
	if err != nil || dup {
		t.Fatalf("late report: dup=%v err=%v, want stored", dup, err)
	}
	if late.Sequence <= ended[0].Sequence || late.AgentId != agentA.ID || late.Outcome != pb.Outcome_OUTCOME_PASSED {
		t.Fatalf("late result: seq %d (expiry %d) agent %q outcome %v", late.Sequence, ended[0].Sequence, late.AgentId, late.Outcome)
	}
	got, err := s.Run(r.RunId)
	if err != nil || got.State != pb.RunState_RUN_STATE_DONE || got.Result.Outcome != pb.Outcome_OUTCOME_PASSED || got.Result.Sequence != late.Sequence {
		t.Fatalf("run after late report: %v %v", got.GetResult(), err)
	}
	// Reporting it again is a duplicate: nothing new is stored.
	again, dup, err := s.CompleteRun(&pb.RunResult{RunId: r.RunId, Attempt: 1, Outcome: pb.Outcome_OUTCOME_PASSED}, agentA)
	if err != nil || !dup || again.Sequence != late.Sequence {
		t.Fatalf("repeated late report: dup=%v err=%v seq %d", dup, err, again.GetSequence())
	}
	n := 0
	if err := s.Results(0, func(*pb.RunResult) bool { n++; return true }); err != nil || n != 2 {
		t.Fatalf("stored results: %d (%v), want the expiry result and the late one", n, err)
	}
	// Once the agent's result is in, the run is closed for good.
	if _, _, err := s.CompleteRun(&pb.RunResult{RunId: r.RunId, Attempt: 1, Outcome: pb.Outcome_OUTCOME_FAILED}, agentB); err == nil {
		t.Fatal("a report from another instance after the late result was accepted")
	}
}

func TestLateReportAfterCheckpointUnavailableIsRefused(t *testing.T) {
	s, now, r := runFixture(t)
	if _, err := s.ExpireRuns(now.Add(2 * time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CompleteRun(&pb.RunResult{RunId: r.RunId, Attempt: 1, Outcome: pb.Outcome_OUTCOME_PASSED}, agentA); err == nil {
		t.Fatal("a report for a run no agent claimed was accepted")
	}
}

func TestUnclaimedRunExpiresAsCheckpointUnavailable(t *testing.T) {
	s, now, r := runFixture(t)
	if ended, _ := s.ExpireRuns(now.Add(30 * time.Second)); len(ended) != 0 {
		t.Fatalf("run expired before its deadline")
	}
	ended, err := s.ExpireRuns(now.Add(2 * time.Minute))
	if err != nil || len(ended) != 1 || ended[0].ErrorClass != pb.ErrorClass_ERROR_CLASS_CHECKPOINT_UNAVAILABLE {
		t.Fatalf("expire: %v %v", ended, err)
	}
	*now = now.Add(2 * time.Minute)
	if _, err := s.ClaimRun(r.RunId, 1, agentA); !errors.Is(err, ErrRunClosed) {
		t.Fatalf("claim after expiry: %v, want ErrRunClosed", err)
	}
}

func TestStateSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil {
		t.Fatal("second Open of a held data dir succeeded")
	}
	r := &pb.Run{RunId: "run-9", CheckpointId: "cp-1", Attempt: 1, Deadline: timestamppb.New(time.Now().Add(time.Hour))}
	if err := s.CreateRuns([]*pb.Run{r}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.OpenRunCount() != 1 {
		t.Fatalf("open runs after reopen = %d, want 1", s.OpenRunCount())
	}
}

// TestClaimAndItsAuditCommitTogether: a refused claim leaves no entry; a granted one leaves the
// run claimed and its entry, with the detail computed from the claimed run.
func TestClaimAndItsAuditCommitTogether(t *testing.T) {
	s, _, r := runFixture(t)
	detail := func(run *pb.Run) string { return "attempt " + strconv.Itoa(int(run.Attempt)) }
	if _, err := s.ClaimRunAudited(r.RunId, 1, other, "fetch_run_secrets", detail); !errors.Is(err, ErrOtherCheckpoint) {
		t.Fatalf("another checkpoint's claim: %v", err)
	}
	if log, _ := s.AuditLog(); len(log) != 0 {
		t.Fatalf("a refused claim left audit entries: %v", log)
	}
	if _, err := s.ClaimRunAudited(r.RunId, 1, agentA, "fetch_run_secrets", detail); err != nil {
		t.Fatal(err)
	}
	log, _ := s.AuditLog()
	if len(log) != 1 || log[0].Actor != agentA.ID || log[0].Target != r.RunId || log[0].Detail != "attempt 1" {
		t.Fatalf("audit after the claim: %+v", log)
	}
	if got, _ := s.Run(r.RunId); got.GetAgentId() != agentA.ID || got.GetState() != pb.RunState_RUN_STATE_RUNNING {
		t.Fatalf("run after the claim: %v", got)
	}
}

// TestQueuedRunsAreSeenByLaterWrites: the dispatcher publishes a run before its record is durable,
// so a claim queued after QueueRuns must find the run, even while the committer is busy with an
// earlier transaction; and a record that fails says so through wait.
func TestQueuedRunsAreSeenByLaterWrites(t *testing.T) {
	s, now, _ := runFixture(t)
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	busy, err := s.group.submit(func(*bolt.Tx) error { // holds the committer
		once.Do(func() { close(started) })
		<-release
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	<-started // the committer has taken it off the queue
	r := &pb.Run{RunId: "run-queued", MonitorId: "mon-1", MonitorName: "orders", CheckpointId: "cp-1", CheckpointName: "paris",
		Attempt: 1, State: pb.RunState_RUN_STATE_DISPATCHED, ScheduledAt: timestamppb.New(*now), Deadline: timestamppb.New(now.Add(time.Minute))}
	recorded, err := s.QueueRuns([]*pb.Run{r}, nil)
	if err != nil {
		t.Fatal(err)
	}
	claimed := make(chan error, 1)
	go func() {
		_, err := s.ClaimRun(r.RunId, 1, agentA)
		claimed <- err
	}()
	// Release the committer only once the claim is queued behind the record.
	waitQueued(t, s.group, 2)
	close(release)
	if err := busy(); err != nil {
		t.Fatal(err)
	}
	if _, err := recorded(); err != nil {
		t.Fatalf("recording the run: %v", err)
	}
	if err := <-claimed; err != nil {
		t.Fatalf("a claim queued after the run's record did not find it: %v", err)
	}

	bad, err := s.QueueRuns([]*pb.Run{{RunId: ""}}, nil) // bbolt refuses an empty key
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad(); err == nil {
		t.Fatal("recording a run without an id reported no error")
	}
}

// TestRefusedRunsAreRecordedEnded: a run recorded with a refusal is never open (nothing can claim
// it, and the sweep does not publish it again); its result is stored; the other runs of the same
// write stay open.
func TestRefusedRunsAreRecordedEnded(t *testing.T) {
	s, now, _ := runFixture(t)
	mk := func(id string) *pb.Run {
		return &pb.Run{RunId: id, MonitorId: "mon-1", MonitorName: "orders", CheckpointId: "cp-1", CheckpointName: "paris",
			Attempt: 1, State: pb.RunState_RUN_STATE_DISPATCHED, ScheduledAt: timestamppb.New(*now), Deadline: timestamppb.New(now.Add(time.Minute))}
	}
	refusal := &pb.RunResult{Outcome: pb.Outcome_OUTCOME_ERROR, ErrorClass: pb.ErrorClass_ERROR_CLASS_POLICY, Message: "policy: no"}
	wait, err := s.QueueRuns([]*pb.Run{mk("run-ok"), mk("run-refused")}, []*pb.RunResult{nil, refusal})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := wait()
	if err != nil {
		t.Fatal(err)
	}
	if stored[0] != nil || stored[1].GetMessage() != "policy: no" || stored[1].Sequence == 0 {
		t.Fatalf("stored results %v, want none for the open run and the refusal, with a sequence, for the refused one", stored)
	}
	if _, err := s.ClaimRun("run-refused", 1, agentA); !errors.Is(err, ErrRunClosed) {
		t.Errorf("claiming the refused run: %v, want ErrRunClosed", err)
	}
	if _, err := s.ClaimRun("run-ok", 1, agentA); err != nil {
		t.Errorf("claiming the open run of the same write: %v", err)
	}
	*now = now.Add(2 * time.Minute)
	retried, err := s.RetryUnclaimed(*now, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range retried {
		if r.RunId == "run-refused" {
			t.Errorf("the refused run was given another attempt")
		}
	}
}

// TestEndRunsEndsAllOrNone: the dispatcher ends the runs it could not publish in one write; a run
// already done keeps its result and is not returned to announce again; a run that does not exist
// fails the write and ends none.
func TestEndRunsEndsAllOrNone(t *testing.T) {
	s, _, r := runFixture(t)
	res := func(msg string) *pb.RunResult {
		return &pb.RunResult{Outcome: pb.Outcome_OUTCOME_ERROR, ErrorClass: pb.ErrorClass_ERROR_CLASS_CHECKPOINT_UNAVAILABLE, Message: msg}
	}
	if _, err := s.EndRuns([]string{r.RunId, "run-missing"}, []*pb.RunResult{res("a"), res("b")}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ending a missing run with another: %v, want ErrNotFound", err)
	}
	if s.OpenRunCount() != 1 {
		t.Fatalf("a failed EndRuns ended a run anyway")
	}
	first, err := s.EndRuns([]string{r.RunId}, []*pb.RunResult{res("first")})
	if err != nil || first[0].GetMessage() != "first" {
		t.Fatalf("ending the run: %v %v", first, err)
	}
	again, err := s.EndRuns([]string{r.RunId}, []*pb.RunResult{res("second")})
	if err != nil || again[0] != nil {
		t.Errorf("ending a done run again: %v %v, want nothing to announce", again, err)
	}
	if got, _ := s.Run(r.RunId); got.GetResult().GetMessage() != "first" {
		t.Errorf("ending a done run again changed its result to %v", got.GetResult())
	}
}

// TestQueueRunsAfterCloseQueuesNothing: once the store is closed, QueueRuns fails at once, so the
// dispatcher publishes nothing for runs that cannot be recorded.
func TestQueueRunsAfterCloseQueuesNothing(t *testing.T) {
	s, now, _ := runFixture(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r := &pb.Run{RunId: "run-late", CheckpointId: "cp-1", Attempt: 1, ScheduledAt: timestamppb.New(*now), Deadline: timestamppb.New(now.Add(time.Minute))}
	if wait, err := s.QueueRuns([]*pb.Run{r}, nil); err == nil || wait != nil {
		t.Fatalf("QueueRuns on a closed store: wait %v, err %v; want an error and nothing queued", wait != nil, err)
	}
}

// TestSweepWritesOnlyWhenARunIsDue: the sweep runs every second; with every open run inside its
// deadline it must not write (an empty bbolt commit still writes and syncs its meta page), and once
// one is past it, it retries or ends exactly that run.
func TestSweepWritesOnlyWhenARunIsDue(t *testing.T) {
	s, now, r := runFixture(t)
	writes := func() int64 { st := s.DB().Stats(); return st.TxStats.GetWrite() }
	before := writes()
	for range 3 {
		if retried, err := s.RetryUnclaimed(now.Add(30*time.Second), 2); err != nil || len(retried) != 0 {
			t.Fatalf("retry before the deadline: %v %v", retried, err)
		}
		if ended, err := s.ExpireRuns(now.Add(30 * time.Second)); err != nil || len(ended) != 0 {
			t.Fatalf("expire before the deadline: %v %v", ended, err)
		}
	}
	if got := writes(); got != before {
		t.Fatalf("sweeps with nothing due wrote %d pages", got-before)
	}
	retried, err := s.RetryUnclaimed(now.Add(2*time.Minute), 2)
	if err != nil || len(retried) != 1 || retried[0].RunId != r.RunId || retried[0].Attempt != 2 {
		t.Fatalf("retry past the deadline: %v %v", retried, err)
	}
	if writes() == before {
		t.Fatal("the retry wrote nothing")
	}
	// The second attempt's deadline is ahead again: nothing to end yet, and nothing written.
	before = writes()
	if ended, err := s.ExpireRuns(now.Add(2 * time.Minute)); err != nil || len(ended) != 0 {
		t.Fatalf("expire inside the retried deadline: %v %v", ended, err)
	}
	if writes() != before {
		t.Fatal("an expiry with nothing due wrote")
	}
	ended, err := s.ExpireRuns(now.Add(10 * time.Minute))
	if err != nil || len(ended) != 1 || ended[0].Attempt != 2 || ended[0].ErrorClass != pb.ErrorClass_ERROR_CLASS_CHECKPOINT_UNAVAILABLE {
		t.Fatalf("expire past the retried deadline: %v %v", ended, err)
	}
	if s.OpenRunCount() != 0 {
		t.Fatal("the expired run is still open")
	}
}

// TestSweepRechecksWhatItListed: a run the sweep listed as due may get its result, or be deleted
// past retention, before the sweep's write; the write leaves it alone instead of ending it again
// or failing the sweep.
func TestSweepRechecksWhatItListed(t *testing.T) {
	s, now, r := runFixture(t)
	if _, err := s.ClaimRun(r.RunId, 1, agentA); err != nil {
		t.Fatal(err)
	}
	late := now.Add(2 * time.Minute)
	due, err := s.openPast(late, func(*pb.Run) bool { return true })
	if err != nil || len(due) != 1 {
		t.Fatalf("listed %v (%v), want the run", due, err)
	}
	stored, _, err := s.CompleteRun(&pb.RunResult{RunId: r.RunId, Attempt: 1, Outcome: pb.Outcome_OUTCOME_PASSED}, agentA)
	if err != nil {
		t.Fatal(err)
	}
	ended, err := s.expireListed(append(due, "run-deleted-since"), late)
	if err != nil || len(ended) != 0 {
		t.Fatalf("expiring a run that got its result meanwhile, and one deleted: %v %v, want nothing ended and no error", ended, err)
	}
	got, err := s.Run(r.RunId)
	if err != nil || got.Result.GetSequence() != stored.Sequence || got.Result.Outcome != pb.Outcome_OUTCOME_PASSED {
		t.Fatalf("the run's result after the sweep: %v %v, want the agent's", got.GetResult(), err)
	}
}

// TestEachRetryGetsTheFirstAttemptsSpan: a run retried late by the sweep gets, on every attempt,
// the span its first attempt had, not one stretched by how late the previous retry came.
func TestEachRetryGetsTheFirstAttemptsSpan(t *testing.T) {
	s, now, r := runFixture(t) // scheduled now, deadline a minute later
	start := *now
	for i, at := range []time.Duration{2 * time.Minute, 5 * time.Minute} {
		retried, err := s.RetryUnclaimed(start.Add(at), 3)
		if err != nil || len(retried) != 1 || retried[0].RunId != r.RunId {
			t.Fatalf("retry %d: %v %v", i+1, retried, err)
		}
		if got, want := retried[0].Deadline.AsTime(), start.Add(at+time.Minute); !got.Equal(want) {
			t.Errorf("attempt %d's deadline %v, want a minute after the retry (%v)", retried[0].Attempt, got, want)
		}
	}
}
