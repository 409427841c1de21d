package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Run-table errors. ErrNotYours and ErrRunClosed are refusals of an agent's call.
var (
	ErrNotYours  = errors.New("run was not dispatched to this agent")
	ErrRunClosed = errors.New("run is no longer live")
	// ErrOtherCheckpoint marks a run that exists but belongs to another checkpoint. Such an error
	// is also ErrNotFound and reads exactly like a missing run's, so a caller cannot tell whether
	// a run id it made up exists; the audit log may still say which it was.
	ErrOtherCheckpoint = errors.New("the run belongs to another checkpoint")
)

// hiddenRun is the answer to a caller whose checkpoint does not own the run: word for word what
// it gets for a run that does not exist.
type hiddenRun struct{ runID string }

func (e hiddenRun) Error() string { return fmt.Sprintf("run %s: %v", e.runID, ErrNotFound) }

func (e hiddenRun) Is(target error) bool {
	return target == ErrNotFound || target == ErrOtherCheckpoint
}

// QueueRuns queues the recording of new runs and returns a function that waits until they are
// durable. Every write queued after it (an agent's claim of one of the runs) sees them, so a caller
// may publish the runs before waiting: a claim can never find its run missing unless recording it
// failed, and then wait says so.
//
// Where refused[i] is not nil, run i is recorded already ended with that result (a refusal the
// dispatcher made): it is never open, so no agent can claim it and no sweep can publish it again.
// wait returns the results stored for those runs, nil for the others.
func (s *Store) QueueRuns(runs []*pb.Run, refused []*pb.RunResult) (wait func() ([]*pb.RunResult, error), err error) {
	// Encoded here, on the caller's goroutine: the committer is the store's one writer and should
	// spend its time writing.
	recs := make([][]byte, len(runs))
	for i, r := range runs {
		if recs[i], err = proto.Marshal(r); err != nil {
			return nil, fmt.Errorf("encoding run %s: %w", r.RunId, err)
		}
	}
	stored := make([]*pb.RunResult, len(runs))
	done, err := s.group.submit(func(tx *bolt.Tx) error {
		clear(stored) // this function may run more than once
		for i, r := range runs {
			if err := runsBucket(tx).Put([]byte(r.RunId), recs[i]); err != nil {
				return err
			}
			if err := tx.Bucket(bOpenRuns).Put([]byte(r.RunId), nil); err != nil {
				return err
			}
			if i < len(refused) && refused[i] != nil {
				var err error
				if stored[i], err = s.closeRun(tx, proto.Clone(r).(*pb.Run), refused[i], false); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return func() ([]*pb.RunResult, error) {
		if err := done(); err != nil {
			return nil, err
		}
		return stored, nil
	}, nil
}

// ClaimRun marks the run running on behalf of agentID. Only an instance of the run's checkpoint may
// claim it, only the attempt in flight, only before its deadline; the first instance to claim it
// owns it (a second instance of the same checkpoint is refused).
func (s *Store) ClaimRun(runID string, attempt int32, a Agent) (*pb.Run, error) {
	return s.ClaimRunAudited(runID, attempt, a, "", nil)
}

// ClaimRunAudited claims the run like ClaimRun and, in the same transaction, appends the audit
// entry (actor a, this action, the run as target) whose detail detail computes from the claimed
// run: the claim and its record are durable together, at the cost of one commit. A detail of ""
// writes no entry: the claim is then not worth one (it released nothing).
func (s *Store) ClaimRunAudited(runID string, attempt int32, a Agent, action string, detail func(*pb.Run) string) (*pb.Run, error) {
	r := &pb.Run{}
	err := s.group.update(func(tx *bolt.Tx) error {
		if err := s.claim(tx, r, runID, attempt, a); err != nil {
			return err
		}
		if detail == nil {
			return nil
		}
		d := detail(r)
		if d == "" {
			return nil
		}
		return appendAudit(tx, AuditEntry{Time: s.now(), Actor: a.ID, Action: action, Target: runID, Detail: d})
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (s *Store) claim(tx *bolt.Tx, r *pb.Run, runID string, attempt int32, a Agent) error {
	if err := getProto(runsBucket(tx), runID, r); err != nil {
		return fmt.Errorf("run %s: %w", runID, err)
	}
	if err := checkOwner(r, attempt, a); err != nil {
		return err
	}
	if r.State == pb.RunState_RUN_STATE_DONE || s.now().After(r.Deadline.AsTime()) {
		return fmt.Errorf("%w: run %s has ended or passed its deadline", ErrRunClosed, runID)
	}
	if r.AgentId == a.ID {
		return nil
	}
	r.AgentId, r.State = a.ID, pb.RunState_RUN_STATE_RUNNING
	return putProto(runsBucket(tx), runID, r)
}

func checkOwner(r *pb.Run, attempt int32, a Agent) error {
	switch {
	case r.CheckpointId != a.CheckpointID:
		return hiddenRun{r.RunId}
	case r.Attempt != attempt:
		return fmt.Errorf("%w: run %s attempt %d is not the attempt in flight (%d)", ErrNotYours, r.RunId, attempt, r.Attempt)
	case r.AgentId != "" && r.AgentId != a.ID:
		return fmt.Errorf("%w: run %s was claimed by another instance of the checkpoint", ErrNotYours, r.RunId)
	}
	return nil
}

// CompleteRun stores an agent's result and closes the run. A repeated report of a result already
// stored (same run, same attempt) changes nothing and returns duplicate=true.
func (s *Store) CompleteRun(res *pb.RunResult, a Agent) (stored *pb.RunResult, duplicate bool, err error) {
	err = s.group.update(func(tx *bolt.Tx) error {
		r := &pb.Run{}
		if err := getProto(runsBucket(tx), res.RunId, r); err != nil {
			return fmt.Errorf("run %s: %w", res.RunId, err)
		}
		// A duplicate is a report this agent already made for this attempt (its acknowledgement was
		// lost). A result the controller wrote itself (expiry, policy) carries no agent id: a late
		// report after an "agent lost" expiry from the claiming agent is stored (see lostBy); any
		// other report for an ended run is refused as closed.
		if sum := summaryOf(r); sum.agentID != "" && sum.agentID == a.ID && sum.attempt == res.Attempt {
			var err error
			stored, err = resultOf(tx, r)
			duplicate = err == nil
			return err
		}
		if err := checkOwner(r, res.Attempt, a); err != nil {
			return err
		}
		if r.AgentId == "" {
			return fmt.Errorf("%w: run %s was never claimed (FetchRunSecrets first)", ErrNotYours, res.RunId)
		}
		if r.State == pb.RunState_RUN_STATE_DONE && !lostBy(r, a, res.Attempt) {
			prev, _ := resultOf(tx, r) // only for the message: a result past retention has none
			return fmt.Errorf("%w: run %s already ended: %s", ErrRunClosed, res.RunId, prev.GetMessage())
		}
		var err error
		stored, err = s.closeRun(tx, r, res, true)
		return err
	})
	return stored, duplicate, err
}

// lostBy says whether the run was ended by the expiry sweeper as "agent lost" while agent a held
// this attempt. Such a run takes the agent's late result (spooled while the controller was out of
// reach): it is stored under the next sequence and replaces the expiry result as the run's result.
func lostBy(r *pb.Run, a Agent, attempt int32) bool {
	res := summaryOf(r)
	return r.AgentId == a.ID && r.Attempt == attempt && res.done && res.agentID == "" &&
		res.attempt == attempt && res.errorClass == pb.ErrorClass_ERROR_CLASS_AGENT_LOST
}

// closeRun fills the controller-owned fields of res, stores it under the next sequence and marks the
// run done. fromAgent says whether the claiming agent reported res; a result the controller made
// (expiry, policy) names no agent.
func (s *Store) closeRun(tx *bolt.Tx, r *pb.Run, res *pb.RunResult, fromAgent bool) (*pb.RunResult, error) {
	res = proto.Clone(res).(*pb.RunResult)
	res.RunId, res.Attempt, res.AgentId = r.RunId, r.Attempt, ""
	if fromAgent {
		res.AgentId = r.AgentId
	}
	res.MonitorId, res.MonitorName = r.MonitorId, r.MonitorName
	res.CheckpointId, res.CheckpointName = r.CheckpointId, r.CheckpointName
	res.Confirmation, res.ScheduledAt = r.Confirmation, r.ScheduledAt
	results := appendOnly(tx, bResults)
	seq, err := results.NextSequence()
	if err != nil {
		return nil, err
	}
	res.Sequence, res.StoredAt = seq, timestamppb.New(s.now())
	enc, err := encodeResult(res)
	if err != nil {
		return nil, err
	}
	if err := results.Put(seqKey(seq), enc); err != nil {
		return nil, err
	}
	// A late report replacing an "agent lost" expiry takes the expiry out of its rollup.
	prev, err := resultOf(tx, r)
	if err != nil {
		return nil, err
	}
	if err := indexResult(tx, res, prev); err != nil {
		return nil, err
	}
	r.State = pb.RunState_RUN_STATE_DONE
	pointAt(r, res) // the record points at the result: one copy on disk
	if err := putProto(runsBucket(tx), r.RunId, r); err != nil {
		return nil, err
	}
	if err := tx.Bucket(bOpenRuns).Delete([]byte(r.RunId)); err != nil {
		return nil, err
	}
	return res, s.runHook(tx, res)
}

// ExpireRuns ends every open run whose deadline is before now with a result that says why: no
// instance picked it up ("checkpoint unavailable") or the one that did never reported ("agent lost").
// When no open run is past its deadline (the usual sweep) it writes nothing. On an error it returns
// the runs it ended before it, which are stored and must be announced all the same.
func (s *Store) ExpireRuns(now time.Time) ([]*pb.RunResult, error) {
	due, err := s.openPast(now, anyRun)
	if err != nil {
		return nil, err
	}
	return s.expireListed(due, now)
}

func anyRun(*pb.Run) bool { return true }

// expireListed ends the runs of due that are still open and past their deadline at now.
func (s *Store) expireListed(due []string, now time.Time) ([]*pb.RunResult, error) {
	return sweepListed(s, due, now, anyRun, func(tx *bolt.Tx, r *pb.Run) (*pb.RunResult, error) {
		return s.closeRun(tx, r, expiryResult(r, now), false)
	})
}

// RetryUnclaimed gives every open run that no instance claimed by its deadline (now is past it)
// another attempt, while its attempt is below maxAttempts: same run id, attempt+1, state
// dispatched, deadline now plus the span the run had for its first attempt. It returns the runs to
// publish again; ExpireRuns ends the ones left. When none is due it writes nothing. On an error
// it returns the runs it retried before it, which must be published all the same.
func (s *Store) RetryUnclaimed(now time.Time, maxAttempts int32) ([]*pb.Run, error) {
	retryable := func(r *pb.Run) bool { return r.AgentId == "" && r.Attempt < maxAttempts }
	due, err := s.openPast(now, retryable)
	if err != nil {
		return nil, err
	}
	return sweepListed(s, due, now, retryable, func(tx *bolt.Tx, r *pb.Run) (*pb.Run, error) {
		nextAttempt(r, now)
		return r, putProto(runsBucket(tx), r.RunId, r)
	})
}

// HandOverLost gives every open run that an instance claimed but did not report by its deadline
// (now is past it) another attempt, while its attempt is below maxAttempts and handOver says that
// another instance of its checkpoint could take it: attempt+1, unclaimed, state dispatched, a new
// deadline as RetryUnclaimed sets it, and the silent instance named in handed_over_from. The
// silent instance's late result for its attempt is refused (it is not the attempt in flight). It
// returns the runs to publish again; ExpireRuns ends the ones left as "agent lost". On an error it
// returns the runs it handed over before it, which must be published all the same.
func (s *Store) HandOverLost(now time.Time, maxAttempts int32, handOver func(*pb.Run) bool) ([]*pb.Run, error) {
	lost := func(r *pb.Run) bool { return r.AgentId != "" && r.Attempt < maxAttempts }
	listed, err := s.openPastRuns(now, lost)
	if err != nil {
		return nil, err
	}
	var due []string
	silent := map[string]string{} // run id → the instance that claimed it when listed
	for _, r := range listed {
		if handOver(r) {
			due, silent[r.RunId] = append(due, r.RunId), r.AgentId
		}
	}
	same := func(r *pb.Run) bool { return lost(r) && r.AgentId == silent[r.RunId] }
	return sweepListed(s, due, now, same, func(tx *bolt.Tx, r *pb.Run) (*pb.Run, error) {
		r.HandedOverFrom, r.AgentId = r.AgentId, ""
		nextAttempt(r, now)
		return r, putProto(runsBucket(tx), r.RunId, r)
	})
}

// nextAttempt makes r's next attempt, dispatched at now.
func nextAttempt(r *pb.Run, now time.Time) {
	// The first attempt's span, kept on the first retry: later deadlines, moved by the sweep's
	// lag, would make each attempt longer than the one before.
	if r.AttemptSpan == nil {
		r.AttemptSpan = durationpb.New(r.Deadline.AsTime().Sub(r.ScheduledAt.AsTime()))
	}
	r.Attempt++
	r.State = pb.RunState_RUN_STATE_DISPATCHED
	r.Deadline = timestamppb.New(now.Add(r.AttemptSpan.AsDuration()))
}

// sweepListed applies fn, in transactions of at most sweepChunk runs, to each run of ids that is
// still open, past its deadline at now and wanted: a claim or a result may have come in since
// openPast listed it, and a run ended since may have been deleted past retention. It returns what
// fn returned for the runs of the transactions that committed, those before an error included.
func sweepListed[T any](s *Store, ids []string, now time.Time, want func(*pb.Run) bool, fn func(*bolt.Tx, *pb.Run) (T, error)) ([]T, error) {
	return updateOpen(s, ids, func(r *pb.Run) bool { return now.After(r.Deadline.AsTime()) && want(r) }, fn)
}

// updateOpen applies fn, in transactions of at most sweepChunk runs, to each run of ids that is
// still open and wanted, as sweepListed does without asking for a deadline past.
func updateOpen[T any](s *Store, ids []string, want func(*pb.Run) bool, fn func(*bolt.Tx, *pb.Run) (T, error)) ([]T, error) {
	var out []T
	for chunk := range slices.Chunk(ids, sweepChunk) {
		var part []T
		err := s.group.update(func(tx *bolt.Tx) error {
			part = part[:0] // this function may run more than once
			for _, id := range chunk {
				r := &pb.Run{}
				if err := getProto(runsBucket(tx), id, r); errors.Is(err, ErrNotFound) {
					continue
				} else if err != nil {
					return err
				}
				if r.State == pb.RunState_RUN_STATE_DONE || !want(r) {
					continue
				}
				v, err := fn(tx, r)
				if err != nil {
					return err
				}
				part = append(part, v)
			}
			return nil
		})
		if err != nil {
			return out, err
		}
		out = append(out, part...)
	}
	return out, nil
}

// sweepChunk bounds the runs one sweep transaction retries or ends: after an outage thousands can
// be due at once, and the claims and results sharing the committer should not wait for all of them.
const sweepChunk = 1000

// openPast lists, in a read transaction, the open runs past their deadline at now for which want
// holds. The sweep asks every second and the answer is almost always none: reading first spares
// the committer (and the disk) a write transaction, and its two fsyncs, that would change nothing.
func (s *Store) openPast(now time.Time, want func(*pb.Run) bool) ([]string, error) {
	runs, err := s.openPastRuns(now, want)
	ids := make([]string, len(runs))
	for i, r := range runs {
		ids[i] = r.RunId
	}
	return ids, err
}

// openPastRuns is openPast with the runs as read.
func (s *Store) openPastRuns(now time.Time, want func(*pb.Run) bool) ([]*pb.Run, error) {
	return s.OpenRuns(func(r *pb.Run) bool { return now.After(r.Deadline.AsTime()) && want(r) })
}

// OpenRuns lists, in a read transaction, the open runs for which want holds. want runs inside
// the transaction: it must not read the store.
func (s *Store) OpenRuns(want func(*pb.Run) bool) ([]*pb.Run, error) {
	var due []*pb.Run
	err := s.db.View(func(tx *bolt.Tx) error {
		runs := runsBucket(tx)
		return tx.Bucket(bOpenRuns).ForEach(func(k, _ []byte) error {
			r := &pb.Run{}
			if err := getProto(runs, string(k), r); err != nil {
				return err
			}
			if want(r) {
				due = append(due, r)
			}
			return nil
		})
	})
	return due, err
}

func expiryResult(r *pb.Run, now time.Time) *pb.RunResult {
	res := &pb.RunResult{Outcome: pb.Outcome_OUTCOME_ERROR, StartedAt: r.ScheduledAt, FinishedAt: timestamppb.New(now)}
	if r.AgentId == "" {
		res.ErrorClass = pb.ErrorClass_ERROR_CLASS_CHECKPOINT_UNAVAILABLE
		res.Message = fmt.Sprintf("checkpoint unavailable: no agent of checkpoint %q picked up the run before its deadline (is an agent running and connected?)", r.CheckpointName)
	} else {
		res.ErrorClass = pb.ErrorClass_ERROR_CLASS_AGENT_LOST
		res.Message = fmt.Sprintf("agent lost: agent %s of checkpoint %q took the run but reported no result before its deadline", r.AgentId, r.CheckpointName)
	}
	return res
}

// EndStranded ends each listed run that is still open, unclaimed or claimed by the instance that
// held it when listed, and not yet past its deadline at now, with the result made for it: its
// checkpoint has no live instance left to run it or to take it over. It returns the results
// stored; on an error, those of the transactions that committed before it.
func (s *Store) EndStranded(now time.Time, listed []*pb.Run, result func(*pb.Run) *pb.RunResult) ([]*pb.RunResult, error) {
	ids := make([]string, len(listed))
	holder := map[string]string{} // run id → the instance that had claimed it when listed
	for i, r := range listed {
		ids[i], holder[r.RunId] = r.RunId, r.AgentId
	}
	same := func(r *pb.Run) bool { return r.AgentId == holder[r.RunId] && !now.After(r.Deadline.AsTime()) }
	return updateOpen(s, ids, same, func(tx *bolt.Tx, r *pb.Run) (*pb.RunResult, error) {
		res := result(r)
		res.StartedAt, res.FinishedAt = r.ScheduledAt, timestamppb.New(now)
		return s.closeRun(tx, r, res, false)
	})
}

// EndRun closes an open run with a result made by the controller (a policy refusal, say). It
// returns the result stored, or nil when the run had already ended (its result was announced by
// whoever ended it).
func (s *Store) EndRun(runID string, res *pb.RunResult) (*pb.RunResult, error) {
	stored, err := s.EndRuns([]string{runID}, []*pb.RunResult{res})
	if err != nil {
		return nil, err
	}
	return stored[0], nil
}

// EndRuns closes open runs, runIDs[i] with res[i], in one transaction: all of them or, on an
// error, none. It returns the results stored; a run already done keeps the result it has and
// gets nil, so that only the caller that ended a run announces its result.
func (s *Store) EndRuns(runIDs []string, res []*pb.RunResult) ([]*pb.RunResult, error) {
	stored := make([]*pb.RunResult, len(runIDs))
	err := s.group.update(func(tx *bolt.Tx) error {
		for i, id := range runIDs {
			r := &pb.Run{}
			if err := getProto(runsBucket(tx), id, r); err != nil {
				return fmt.Errorf("run %s: %w", id, err)
			}
			if r.State == pb.RunState_RUN_STATE_DONE {
				stored[i] = nil
				continue
			}
			var err error
			if stored[i], err = s.closeRun(tx, r, res[i], false); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return stored, nil
}

// Run returns a run with its result, if any.
func (s *Store) Run(runID string) (*pb.Run, error) {
	r := &pb.Run{}
	err := s.db.View(func(tx *bolt.Tx) error {
		if err := getProto(runsBucket(tx), runID, r); err != nil {
			return err
		}
		return withResult(tx, r)
	})
	if err != nil {
		return nil, fmt.Errorf("run %q: %w", runID, err)
	}
	return r, nil
}

// OpenRunCount is the number of runs not yet done.
func (s *Store) OpenRunCount() int {
	n := 0
	_ = s.db.View(func(tx *bolt.Tx) error { n = tx.Bucket(bOpenRuns).Stats().KeyN; return nil })
	return n
}

// Results calls fn for stored results with sequence > after, in order, until fn returns false.
func (s *Store) Results(after uint64, fn func(*pb.RunResult) bool) error {
	return s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bResults).Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil; k, v = c.Next() {
			res := &pb.RunResult{}
			if err := decodeResult(v, res); err != nil {
				return fmt.Errorf("result %d: %w", binary.BigEndian.Uint64(k), err)
			}
			if !fn(res) {
				return nil
			}
		}
		return nil
	})
}

func seqKey(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}
