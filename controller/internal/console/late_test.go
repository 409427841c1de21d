package console

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// A result stored later (higher sequence) whose run was scheduled earlier, reported late by an
// agent that spooled it, does not replace the cell's latest result nor reach live pages; the
// same run's later result (replacing its "agent lost" expiry) does.
func TestIndexKeepsTheLatestScheduledRunInACell(t *testing.T) {
	x := NewIndex(IndexOptions{})
	ch, stop := x.subscribe()
	defer stop()
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	res := func(seq uint64, run string, sched time.Time, o pb.Outcome) *pb.RunResult {
		r := result(seq, "mon_1", "edge-1", o)
		r.RunId, r.ScheduledAt = run, timestamppb.New(sched)
		return r
	}
	x.Observe(res(1, "run_b", at.Add(time.Minute), pb.Outcome_OUTCOME_ERROR))
	x.Observe(res(2, "run_a", at, pb.Outcome_OUTCOME_FAILED))
	if got, _ := x.cell("mon_1", "edge-1"); got.RunID != "run_b" {
		t.Errorf("latest after a late result = %s, want run_b", got.RunID)
	}
	x.Observe(res(3, "run_b", at.Add(time.Minute), pb.Outcome_OUTCOME_PASSED))
	if got, _ := x.cell("mon_1", "edge-1"); got.RunID != "run_b" || got.Outcome != pb.Outcome_OUTCOME_PASSED {
		t.Errorf("latest after run_b's own late result = %s %v, want run_b passed", got.RunID, got.Outcome)
	}
	var live []uint64
	for len(ch) > 0 {
		live = append(live, (<-ch).Sequence)
	}
	if len(live) != 2 || live[0] != 1 || live[1] != 3 {
		t.Errorf("live updates for sequences %v, want [1 3]", live)
	}
}
