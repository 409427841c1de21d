package store

import (
	"bytes"
	"context"
	"encoding/hex"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Retention says how long the store keeps what piles up with every run. Zero keeps it forever.
type Retention struct {
	// Runs: finished runs and their results, counted from when the run was created.
	Runs time.Duration
	// Audit: audit entries, counted from when they were written.
	Audit time.Duration
}

// Pruned counts what Prune deleted.
type Pruned struct{ Runs, Results, Audit int }

// Total is the number of records deleted.
func (p Pruned) Total() int { return p.Runs + p.Results + p.Audit }

// pruneChunk bounds the deletions of each kind in one write transaction. Prune shares the group
// committer with claims and results; small transactions keep it from holding them up behind a
// backlog (the first prune of a large file, or one after a long stop).
const pruneChunk = 1000

// Prune deletes, oldest first, finished runs created before now minus r.Runs, the results of runs
// created before then, and audit entries written before now minus r.Audit. A run that is still
// open is never deleted, however old (the sweep ends it; a later prune deletes it). It works in
// small transactions until nothing is left to delete or ctx ends, and returns what it deleted.
//
// Times are the controller's own: a run's creation time is in its id (NewID), an audit entry's is
// written by the controller. A result is aged by its run's id, never by the agent's clock.
func (s *Store) Prune(ctx context.Context, r Retention, now time.Time) (Pruned, error) {
	var total Pruned
	for ctx.Err() == nil {
		var runs, results, audit [][]byte
		err := s.db.View(func(tx *bolt.Tx) error {
			var err error
			if r.Runs > 0 {
				cut := now.Add(-r.Runs)
				if runs, err = oldRuns(tx, cut); err != nil {
					return err
				}
				if results, err = oldResults(tx, cut); err != nil {
					return err
				}
			}
			if r.Audit > 0 {
				audit, err = oldAudit(tx, now.Add(-r.Audit))
			}
			return err
		})
		if err != nil || len(runs)+len(results)+len(audit) == 0 {
			return total, err
		}
		var n Pruned
		err = s.group.update(func(tx *bolt.Tx) error {
			n = Pruned{} // this function may run more than once
			for _, k := range runs {
				// Still done? It was when read, and a done run never reopens; checked all the same.
				r := &pb.Run{}
				if err := getProto(tx.Bucket(bRuns), string(k), r); err != nil || r.State != pb.RunState_RUN_STATE_DONE {
					continue
				}
				if err := tx.Bucket(bRuns).Delete(k); err != nil {
					return err
				}
				n.Runs++
			}
			for _, k := range results {
				if err := tx.Bucket(bResults).Delete(k); err != nil {
					return err
				}
				n.Results++
			}
			for _, k := range audit {
				if err := tx.Bucket(bAudit).Delete(k); err != nil {
					return err
				}
				n.Audit++
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total.Runs, total.Results, total.Audit = total.Runs+n.Runs, total.Results+n.Results, total.Audit+n.Audit
		if len(runs) < pruneChunk && len(results) < pruneChunk && len(audit) < pruneChunk {
			return total, nil
		}
	}
	return total, ctx.Err()
}

// oldRuns lists up to pruneChunk keys of done runs created before cut. Run ids begin with their
// creation time, so the scan stops at the first run created at or after cut.
func oldRuns(tx *bolt.Tx, cut time.Time) ([][]byte, error) {
	var keys [][]byte
	c := tx.Bucket(bRuns).Cursor()
	for k, v := c.First(); k != nil && len(keys) < pruneChunk; k, v = c.Next() {
		created, ok := IDTime(string(k))
		if ok && !created.Before(cut) {
			break
		}
		r := &pb.Run{}
		if err := proto.Unmarshal(v, r); err != nil {
			return nil, err
		}
		if !ok && !r.GetScheduledAt().AsTime().Before(cut) {
			continue // an id without a time (not made by NewID): aged by its schedule instead
		}
		if r.State == pb.RunState_RUN_STATE_DONE {
			keys = append(keys, bytes.Clone(k))
		}
	}
	return keys, nil
}

// oldResults lists up to pruneChunk keys of results of runs created before cut, from the oldest
// sequence, stopping at the first result of a newer run. Results are stored as runs end, in nearly
// the order the runs were created; one that is out of order holds back those after it for at most
// its run's time in flight, and they go on a later prune.
func oldResults(tx *bolt.Tx, cut time.Time) ([][]byte, error) {
	var keys [][]byte
	c := tx.Bucket(bResults).Cursor()
	for k, v := c.First(); k != nil && len(keys) < pruneChunk; k, v = c.Next() {
		res := &pb.RunResult{}
		if err := proto.Unmarshal(v, res); err != nil {
			return nil, err
		}
		created, ok := IDTime(res.RunId)
		if !ok {
			created = res.GetFinishedAt().AsTime()
		}
		if !created.Before(cut) {
			break
		}
		keys = append(keys, bytes.Clone(k))
	}
	return keys, nil
}

// oldAudit lists up to pruneChunk keys of audit entries written before cut, oldest first.
func oldAudit(tx *bolt.Tx, cut time.Time) ([][]byte, error) {
	var keys [][]byte
	b := tx.Bucket(bAudit)
	c := b.Cursor()
	for k, _ := c.First(); k != nil && len(keys) < pruneChunk; k, _ = c.Next() {
		var e AuditEntry
		if err := getJSON(b, k, &e); err != nil {
			return nil, err
		}
		if !e.Time.Before(cut) {
			break
		}
		keys = append(keys, bytes.Clone(k))
	}
	return keys, nil
}

// IDTime returns the creation time NewID put in id, to the millisecond; false when id was not made
// by NewID.
func IDTime(id string) (time.Time, bool) {
	if len(id) < 24 {
		return time.Time{}, false
	}
	var b [12]byte
	if _, err := hex.Decode(b[:], []byte(id[len(id)-24:])); err != nil {
		return time.Time{}, false
	}
	var ms int64
	for _, x := range b[:6] {
		ms = ms<<8 | int64(x)
	}
	return time.UnixMilli(ms), true
}
