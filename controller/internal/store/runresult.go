package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// A done run's record points at its result (Run.result_sequence) instead of holding a copy: the
// result is stored once, in the results bucket. The record keeps the few fields the run table
// decides on without loading the result (who reported it, its error class, when it was stored).
// Records written before this kept the whole result in Run.result; every reader here accepts both.

// pointAt makes the done run r point at its stored result res.
func pointAt(r *pb.Run, res *pb.RunResult) {
	r.Result = nil
	r.ResultSequence, r.ResultFromAgent = res.Sequence, res.AgentId != ""
	r.ResultErrorClass, r.ResultStoredAt = res.ErrorClass, res.StoredAt
}

// resultSummary is what a run record says of its result.
type resultSummary struct {
	done       bool // the run has a result
	agentID    string
	attempt    int32
	errorClass pb.ErrorClass
}

// summaryOf reads the result's summary from a record of either form.
func summaryOf(r *pb.Run) resultSummary {
	if res := r.GetResult(); res != nil {
		return resultSummary{done: true, agentID: res.AgentId, attempt: res.Attempt, errorClass: res.ErrorClass}
	}
	if r.GetResultSequence() == 0 {
		return resultSummary{}
	}
	// closeRun stores the result under the run's attempt and names the claiming agent when it
	// reported it; a done run's attempt and agent never change.
	sum := resultSummary{done: true, attempt: r.Attempt, errorClass: r.ResultErrorClass}
	if r.ResultFromAgent {
		sum.agentID = r.AgentId
	}
	return sum
}

// runStoredAt is when the run's result was stored (see storedAt), from a record of either form.
func runStoredAt(r *pb.Run) (time.Time, bool) {
	if r.GetResult() != nil || r.GetResultStoredAt() == nil {
		return storedAt(r.GetResult())
	}
	return r.ResultStoredAt.AsTime(), true
}

// resultOf returns the done run's result: the copy an old record holds, or the one its sequence
// names. It is nil for a run not done. A result deleted past retention before its run record
// (the prune deletes them in separate chunks) is ErrNotFound.
func resultOf(tx *bolt.Tx, r *pb.Run) (*pb.RunResult, error) {
	if r.GetResult() != nil || r.GetResultSequence() == 0 {
		return r.GetResult(), nil
	}
	v := tx.Bucket(bResults).Get(seqKey(r.ResultSequence))
	if v == nil {
		return nil, fmt.Errorf("result %d of run %s: %w", r.ResultSequence, r.RunId, ErrNotFound)
	}
	res := &pb.RunResult{}
	if err := decodeResult(v, res); err != nil {
		return nil, fmt.Errorf("result %d of run %s: %w", r.ResultSequence, r.RunId, err)
	}
	return res, nil
}

// withResult fills in r.Result from the result its record points at, so that readers outside the
// store see a done run with its result whichever form the record has.
func withResult(tx *bolt.Tx, r *pb.Run) error {
	res, err := resultOf(tx, r)
	if err != nil {
		return err
	}
	r.Result = res
	return nil
}
