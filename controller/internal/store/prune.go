package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Retention says how long the store keeps what piles up with every run. Zero keeps it forever.
type Retention struct {
	// Runs: finished runs and their results, counted from when the result was stored.
	Runs time.Duration
	// Audit: audit entries, counted from when they were written.
	Audit time.Duration
	// Rollups: hourly rollups (PruneRollups), counted from the start of their hour.
	Rollups time.Duration
	// Alerts: resolved alerts and their notifications (PruneAlerts), counted from when the alert
	// resolved. An open alert is kept.
	Alerts time.Duration
}

// Pruned counts what Prune deleted.
type Pruned struct{ Runs, Results, Audit int }

// Total is the number of records deleted.
func (p Pruned) Total() int { return p.Runs + p.Results + p.Audit }

// pruneChunk bounds the deletions of each kind in one write transaction. Prune shares the group
// committer with claims and results; small transactions keep it from holding them up behind a
// backlog (the first prune of a large file, or one after a long stop).
const pruneChunk = 1000

// Prune deletes, oldest first, runs and results whose result was stored before now minus r.Runs,
// and audit entries written before now minus r.Audit. A run that is still open is never deleted,
// however old (the sweep ends it; a later prune deletes it), and a run that has just ended is kept
// for the whole retention however long ago it started. It works in small transactions until
// nothing is left to delete or ctx ends, and returns what it deleted.
//
// Times are the controller's own, never an agent's: a result's stored_at is set when the
// controller stores it, an audit entry's time when it writes it.
func (s *Store) Prune(ctx context.Context, r Retention, now time.Time) (Pruned, error) {
	var total Pruned
	for ctx.Err() == nil {
		var runs, results, audit [][]byte
		runsCut := now.Add(-r.Runs)
		err := s.db.View(func(tx *bolt.Tx) error {
			var err error
			if r.Runs > 0 {
				if runs, err = oldRuns(tx, runsCut); err != nil {
					return err
				}
				if results, err = oldResults(tx, runsCut); err != nil {
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
				// Still done and past retention? A late report may have replaced its result
				// since it was listed (an "agent lost" run's claiming agent, back from an outage).
				r := &pb.Run{}
				if err := getProto(runsBucket(tx), string(k), r); err != nil || r.State != pb.RunState_RUN_STATE_DONE {
					continue
				}
				if stored, ok := runStoredAt(r); !ok || !stored.Before(runsCut) {
					continue
				}
				if err := runsBucket(tx).Delete(k); err != nil {
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

// oldRuns lists up to pruneChunk keys of done runs whose result was stored before cut. Run ids
// begin with their creation time (NewID) and a run is stored after it is created, so the scan stops
// at the first run created at or after cut.
func oldRuns(tx *bolt.Tx, cut time.Time) ([][]byte, error) {
	var keys [][]byte
	c := runsBucket(tx).Cursor()
	for k, v := c.First(); k != nil && len(keys) < pruneChunk; k, v = c.Next() {
		created, ok := IDTime(string(k))
		if ok && !created.Before(cut) {
			break
		}
		r := &pb.Run{}
		if err := proto.Unmarshal(v, r); err != nil {
			return nil, fmt.Errorf("run %s: %w", k, err)
		}
		if r.State != pb.RunState_RUN_STATE_DONE {
			continue
		}
		if stored, ok := runStoredAt(r); ok && stored.Before(cut) {
			keys = append(keys, bytes.Clone(k))
		}
	}
	return keys, nil
}

// oldResults lists up to pruneChunk keys of results stored before cut. They are kept in the order
// they were stored, so the scan stops at the first one stored at or after cut, or whose time is
// not known.
func oldResults(tx *bolt.Tx, cut time.Time) ([][]byte, error) {
	var keys [][]byte
	c := tx.Bucket(bResults).Cursor()
	for k, v := c.First(); k != nil && len(keys) < pruneChunk; k, v = c.Next() {
		res := &pb.RunResult{}
		if err := decodeResult(v, res); err != nil {
			return nil, fmt.Errorf("result %d: %w", binary.BigEndian.Uint64(k), err)
		}
		stored, ok := storedAt(res)
		if !ok || !stored.Before(cut) {
			break
		}
		keys = append(keys, bytes.Clone(k))
	}
	return keys, nil
}

// storedAt is when the controller stored res. A result stored before stored_at existed is dated
// by its run's creation (the time in its id), which is earlier; one that has neither is not dated,
// and is kept.
func storedAt(res *pb.RunResult) (time.Time, bool) {
	if res.GetStoredAt() != nil {
		return res.StoredAt.AsTime(), true
	}
	return IDTime(res.GetRunId())
}

// oldAudit lists up to pruneChunk keys of audit entries written before cut, oldest first.
func oldAudit(tx *bolt.Tx, cut time.Time) ([][]byte, error) {
	var keys [][]byte
	c := tx.Bucket(bAudit).Cursor()
	for k, v := c.First(); k != nil && len(keys) < pruneChunk; k, v = c.Next() {
		var e AuditEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, fmt.Errorf("audit entry %d: %w", binary.BigEndian.Uint64(k), err)
		}
		if !e.Time.Before(cut) {
			break
		}
		keys = append(keys, bytes.Clone(k))
	}
	return keys, nil
}
