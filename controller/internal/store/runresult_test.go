package store

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// rawRun reads the run record as it is on disk.
func rawRun(t *testing.T, s *Store, runID string) (*pb.Run, int) {
	t.Helper()
	r := &pb.Run{}
	var n int
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bRuns).Get([]byte(runID))
		n = len(v)
		return proto.Unmarshal(v, r)
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, n
}

// TestDoneRunPointsAtItsResult: the result is stored once; the run record keeps its sequence and
// Run reads the whole result back through it.
func TestDoneRunPointsAtItsResult(t *testing.T) {
	s, _, r := runFixture(t)
	if _, err := s.ClaimRun(r.RunId, 1, agentA); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("<p>service unavailable</p>", 400)
	res := &pb.RunResult{RunId: r.RunId, Attempt: 1, Outcome: pb.Outcome_OUTCOME_FAILED, ErrorClass: pb.ErrorClass_ERROR_CLASS_ASSERTION,
		Message: "step 1: expected status 200, got 503", Steps: []*pb.StepResult{{Index: 0, StatusCode: 503, BodyExcerpt: big}}}
	stored, _, err := s.CompleteRun(res, agentA)
	if err != nil {
		t.Fatal(err)
	}
	rec, size := rawRun(t, s, r.RunId)
	if rec.Result != nil || rec.ResultSequence != stored.Sequence || !rec.ResultFromAgent ||
		rec.ResultErrorClass != pb.ErrorClass_ERROR_CLASS_ASSERTION || !rec.ResultStoredAt.AsTime().Equal(stored.StoredAt.AsTime()) {
		t.Fatalf("run record on disk: result copy %v, sequence %d (want %d), from agent %v, class %v",
			rec.Result != nil, rec.ResultSequence, stored.Sequence, rec.ResultFromAgent, rec.ResultErrorClass)
	}
	if size > len(big)/4 {
		t.Fatalf("run record is %d bytes for a %d-byte excerpt: it still holds the result", size, len(big))
	}
	got, err := s.Run(r.RunId)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got.GetResult(), stored, protocmp.Transform()); diff != "" {
		t.Fatalf("Run's result (-got +want):\n%s", diff)
	}
	// The closed-run refusal still quotes the stored result's message.
	if _, _, err := s.CompleteRun(res, agentB); !errors.Is(err, ErrNotYours) {
		t.Fatalf("report from another instance: %v", err)
	}
}

// mustMarshal is the protobuf encoding of m, as results were stored before they were compressed.
func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// putOldRun writes a done run the way records were written before they pointed at their result:
// a full copy of the result in Run.result, and the result in the results bucket.
func putOldRun(t *testing.T, s *Store, r *pb.Run, res *pb.RunResult) {
	t.Helper()
	err := s.db.Update(func(tx *bolt.Tx) error {
		seq, err := tx.Bucket(bResults).NextSequence()
		if err != nil {
			return err
		}
		res.Sequence = seq
		if err := tx.Bucket(bResults).Put(seqKey(seq), mustMarshal(t, res)); err != nil {
			return err
		}
		r.State, r.Result = pb.RunState_RUN_STATE_DONE, res
		return putProto(tx.Bucket(bRuns), r.RunId, r)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOldRunRecordsStillWork: a record holding a copy of its result reads, is recognised as a
// repeated report, takes the claiming agent's late report after "agent lost", and is pruned by
// its result's time.
func TestOldRunRecordsStillWork(t *testing.T) {
	s, now, _ := runFixture(t)
	old := func(id string, res *pb.RunResult) *pb.Run {
		r := &pb.Run{RunId: id, MonitorId: "mon-1", CheckpointId: "cp-1", Attempt: 1, AgentId: agentA.ID,
			ScheduledAt: timestamppb.New(*now), Deadline: timestamppb.New(now.Add(time.Minute))}
		res.RunId, res.Attempt, res.StoredAt = id, 1, timestamppb.New(*now)
		putOldRun(t, s, r, res)
		return r
	}
	passed := old("run-old-passed", &pb.RunResult{AgentId: agentA.ID, Outcome: pb.Outcome_OUTCOME_PASSED, Message: "ok"})
	lost := old("run-old-lost", &pb.RunResult{Outcome: pb.Outcome_OUTCOME_ERROR, ErrorClass: pb.ErrorClass_ERROR_CLASS_AGENT_LOST})

	got, err := s.Run(passed.RunId)
	if err != nil || got.GetResult().GetMessage() != "ok" || got.GetResult().GetSequence() != passed.Result.Sequence {
		t.Fatalf("old run read back: %v %v", got.GetResult(), err)
	}
	again, dup, err := s.CompleteRun(&pb.RunResult{RunId: passed.RunId, Attempt: 1}, agentA)
	if err != nil || !dup || again.GetMessage() != "ok" {
		t.Fatalf("repeat of an old run's report: dup=%v err=%v %v", dup, err, again)
	}
	late, dup, err := s.CompleteRun(&pb.RunResult{RunId: lost.RunId, Attempt: 1, Outcome: pb.Outcome_OUTCOME_PASSED}, agentA)
	if err != nil || dup || late.Sequence <= lost.Result.Sequence {
		t.Fatalf("late report on an old agent-lost run: dup=%v err=%v %v", dup, err, late)
	}
	if rec, _ := rawRun(t, s, lost.RunId); rec.Result != nil || rec.ResultSequence != late.Sequence {
		t.Fatalf("old record rewritten by the late report: copy %v, sequence %d", rec.Result != nil, rec.ResultSequence)
	}
	pruned, err := s.Prune(t.Context(), Retention{Runs: time.Hour}, now.Add(2*time.Hour))
	// Both done runs (one record old, one rewritten) and their three results go; the open run stays.
	if diff := cmp.Diff(pruned, Pruned{Runs: 2, Results: 3}); err != nil || diff != "" {
		t.Fatalf("prune (-got +want): %s %v", diff, err)
	}
	if s.OpenRunCount() != 1 {
		t.Fatal("prune deleted the open run")
	}
}

// TestClaimWithNothingToRecordLeavesNoAuditEntry: a claim whose detail is empty (it released no
// secret) is made and durable, without an entry.
func TestClaimWithNothingToRecordLeavesNoAuditEntry(t *testing.T) {
	s, _, r := runFixture(t)
	if _, err := s.ClaimRunAudited(r.RunId, 1, agentA, "fetch_run_secrets", func(*pb.Run) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if log, _ := s.AuditLog(); len(log) != 0 {
		t.Fatalf("a claim with nothing to record left audit entries: %+v", log)
	}
	if got, _ := s.Run(r.RunId); got.GetAgentId() != agentA.ID {
		t.Fatalf("run after the claim: %v", got)
	}
}

// TestResultsAreStoredCompressedAndOldOnesStillRead: a result takes less room on disk than its
// encoding, and the stream of results reads the compressed ones and those written before, in order.
func TestResultsAreStoredCompressedAndOldOnesStillRead(t *testing.T) {
	s, _, r := runFixture(t)
	putOldRun(t, s, &pb.Run{RunId: "run-old", CheckpointId: "cp-1", Attempt: 1}, &pb.RunResult{RunId: "run-old", Attempt: 1, Message: "old"})
	if _, err := s.ClaimRun(r.RunId, 1, agentA); err != nil {
		t.Fatal(err)
	}
	step := &pb.StepResult{Url: "https://api.example.net/v2/orders", BodyExcerpt: strings.Repeat(`{"id":"ord_8412","status":"shipped"}`, 20),
		ResponseHeaders: []*pb.Header{{Name: "Content-Type", Value: "application/json"}}}
	stored, _, err := s.CompleteRun(&pb.RunResult{RunId: r.RunId, Attempt: 1, Message: "new", Steps: []*pb.StepResult{step, step}}, agentA)
	if err != nil {
		t.Fatal(err)
	}
	var onDisk int
	_ = s.db.View(func(tx *bolt.Tx) error { onDisk = len(tx.Bucket(bResults).Get(seqKey(stored.Sequence))); return nil })
	if plain := proto.Size(stored); onDisk >= plain/2 {
		t.Fatalf("result takes %d bytes on disk for a %d-byte encoding", onDisk, plain)
	}
	var got []string
	if err := s.Results(0, func(res *pb.RunResult) bool { got = append(got, res.Message); return true }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, []string{"old", "new"}); diff != "" {
		t.Fatalf("results read back (-got +want):\n%s", diff)
	}
	if back, err := s.Run(r.RunId); err != nil || !proto.Equal(back.GetResult(), stored) {
		t.Fatalf("run's result read back: %v %v", back.GetResult(), err)
	}
}
