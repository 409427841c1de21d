package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Two indexes written with every result, in closeRun's transaction:
//   - results_latest: monitor name \0 checkpoint name → the sequence and order (see RunOrder) of
//     the latest result: the one whose run was scheduled last;
//   - rollups: monitor name \0 checkpoint name \0 hour (unix seconds, 8 bytes big-endian) → the
//     hour's Rollup, so uptime and percentiles over months read at most 24 records a day.
var (
	bLatest  = []byte("results_latest")
	bRollups = []byte("rollups")
)

// RollupBounds are the upper bounds, in milliseconds, of the run-duration histogram buckets of a
// Rollup; a last bucket counts what is longer.
var RollupBounds = []int64{10, 25, 50, 75, 100, 150, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10000, 15000, 20000, 30000, 60000}

// Rollup summarises one hour of one monitor's runs from one checkpoint.
type Rollup struct {
	Monitor, Checkpoint string
	Hour                time.Time // start of the hour, UTC
	Runs                int64     // every result
	Failures            int64     // FAILED, and ERROR not caused by Lookout itself
	LookoutErrors       int64     // agent lost, checkpoint unavailable: say nothing of the monitored API
	DurationMs          int64     // sum of durations of the runs in Buckets
	Buckets             []int64   // len(RollupBounds)+1 counts of run durations (Lookout errors left out)
}

// LookoutCaused says whether a result's failure is Lookout's own (no agent, agent lost), which
// says nothing about the monitored API.
func LookoutCaused(res *pb.RunResult) bool {
	switch res.GetErrorClass() {
	case pb.ErrorClass_ERROR_CLASS_AGENT_LOST, pb.ErrorClass_ERROR_CLASS_CHECKPOINT_UNAVAILABLE:
		return res.Outcome == pb.Outcome_OUTCOME_ERROR
	}
	return false
}

func seriesKey(monitor, checkpoint string) []byte {
	return []byte(monitor + "\x00" + checkpoint + "\x00")
}

func rollupKey(monitor, checkpoint string, hour time.Time) []byte {
	return binary.BigEndian.AppendUint64(seriesKey(monitor, checkpoint), uint64(hour.Unix()))
}

// resultHour is the hour a result counts in: when its run started, else when it was stored.
func resultHour(res *pb.RunResult) time.Time {
	t := res.GetStoredAt().AsTime()
	if res.GetStartedAt() != nil {
		t = res.StartedAt.AsTime()
	}
	return t.UTC().Truncate(time.Hour)
}

// indexResult updates the latest-result index and the result's hourly rollup. It runs in
// closeRun's transaction: an index never counts a result that was not stored, nor misses one.
// prev is the result res replaces (a late report after an "agent lost" expiry), taken back out of
// its rollup so that the run counts once. A result whose run was scheduled before the series'
// latest (an agent's spooled result reported late) counts in its rollup but does not become the
// latest.
func indexResult(tx *bolt.Tx, res, prev *pb.RunResult) error {
	if prev != nil {
		if err := updateRollup(tx, prev, -1); err != nil {
			return err
		}
	}
	if err := updateLatest(tx, res); err != nil {
		return err
	}
	return updateRollup(tx, res, 1)
}

// updateLatest points the series' latest entry at res unless the entry's result comes after it.
// An entry is the result's sequence, then its order (so that deciding reads no result): the
// run's scheduled time (unix nanoseconds, 8 bytes big-endian) and run id. An entry written
// before the order was kept holds the sequence alone; its result is read instead.
func updateLatest(tx *bolt.Tx, res *pb.RunResult) error {
	b := tx.Bucket(bLatest)
	key := bytes.TrimSuffix(seriesKey(res.MonitorName, res.CheckpointName), []byte{0})
	cur, err := latestOrder(tx, b.Get(key))
	if err != nil {
		return fmt.Errorf("latest result of %s @ %s: %w", res.MonitorName, res.CheckpointName, err)
	}
	o := OrderOf(res)
	if cur != nil && o.Before(*cur) {
		return nil
	}
	v := binary.BigEndian.AppendUint64(seqKey(res.Sequence), uint64(o.At.UnixNano()))
	return b.Put(key, append(v, o.RunID...))
}

// latestOrder reads the order of a latest entry; nil when there is none, or its result is gone
// past retention from an entry that does not hold its order.
func latestOrder(tx *bolt.Tx, entry []byte) (*RunOrder, error) {
	switch {
	case len(entry) >= 16:
		return &RunOrder{At: time.Unix(0, int64(binary.BigEndian.Uint64(entry[8:16]))).UTC(), RunID: string(entry[16:])}, nil
	case len(entry) < 8:
		return nil, nil
	}
	v := tx.Bucket(bResults).Get(entry[:8])
	if v == nil {
		return nil, nil
	}
	prev := &pb.RunResult{}
	if err := decodeResult(v, prev); err != nil {
		return nil, err
	}
	o := OrderOf(prev)
	return &o, nil
}

// RunOrder places a result in its monitor × checkpoint series: by when its run was scheduled
// (the controller's clock, so an agent's clock cannot reorder a series), ties broken by run id.
// Results reported late (spooled by an agent cut off from the controller) take their place by
// it, not by when they arrived.
type RunOrder struct {
	At    time.Time
	RunID string
}

// OrderOf is res's place in its series: its run's scheduled time; for a result stored before
// that was recorded, when its run started, else when it was stored.
func OrderOf(res *pb.RunResult) RunOrder {
	at := res.GetScheduledAt()
	if at == nil {
		at = res.GetStartedAt()
	}
	if at == nil {
		at = res.GetStoredAt()
	}
	return RunOrder{At: at.AsTime().UTC(), RunID: res.GetRunId()}
}

// Before says whether o comes strictly before p. A run is never before itself: its late result
// replaces the "agent lost" result the controller stored for it.
func (o RunOrder) Before(p RunOrder) bool {
	if !o.At.Equal(p.At) {
		return o.At.Before(p.At)
	}
	return o.RunID < p.RunID
}

// updateRollup adds res to its hour's rollup (sign 1) or takes it out (sign -1).
func updateRollup(tx *bolt.Tx, res *pb.RunResult, sign int64) error {
	key := rollupKey(res.MonitorName, res.CheckpointName, resultHour(res))
	r, err := decodeRollup(tx.Bucket(bRollups).Get(key))
	if err != nil {
		return err
	}
	r.add(res, sign)
	return tx.Bucket(bRollups).Put(key, r.encode())
}

func (r *Rollup) add(res *pb.RunResult, sign int64) {
	r.Runs += sign
	switch {
	case LookoutCaused(res):
		r.LookoutErrors += sign
		return
	case res.Outcome != pb.Outcome_OUTCOME_PASSED:
		r.Failures += sign
	}
	ms := max(res.GetFinishedAt().AsTime().Sub(res.GetStartedAt().AsTime()).Milliseconds(), 0)
	r.DurationMs += sign * ms
	r.Buckets[bucketOf(ms)] += sign
}

func bucketOf(ms int64) int {
	for i, b := range RollupBounds {
		if ms <= b {
			return i
		}
	}
	return len(RollupBounds)
}

// encode is runs, failures, lookout errors, duration sum, then the bucket counts, as uvarints.
func (r *Rollup) encode() []byte {
	b := make([]byte, 0, 16+len(r.Buckets))
	for _, v := range append([]int64{r.Runs, r.Failures, r.LookoutErrors, r.DurationMs}, r.Buckets...) {
		b = binary.AppendUvarint(b, uint64(max(v, 0)))
	}
	return b
}

func decodeRollup(b []byte) (Rollup, error) {
	r := Rollup{Buckets: make([]int64, len(RollupBounds)+1)}
	fields := append([]*int64{&r.Runs, &r.Failures, &r.LookoutErrors, &r.DurationMs}, ptrs(r.Buckets)...)
	for _, f := range fields {
		if len(b) == 0 {
			break // empty: a new rollup; shorter: written with fewer buckets
		}
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return Rollup{}, errors.New("rollup record is corrupt")
		}
		*f, b = int64(v), b[n:]
	}
	return r, nil
}

func ptrs(s []int64) []*int64 {
	out := make([]*int64, len(s))
	for i := range s {
		out[i] = &s[i]
	}
	return out
}

// Rollups returns the rollups of one monitor × checkpoint for the hours in [from, to), oldest first.
func (s *Store) Rollups(monitor, checkpoint string, from, to time.Time) ([]Rollup, error) {
	var out []Rollup
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bRollups).Cursor()
		prefix, end := seriesKey(monitor, checkpoint), rollupKey(monitor, checkpoint, to)
		for k, v := c.Seek(rollupKey(monitor, checkpoint, from.UTC().Truncate(time.Hour))); k != nil && bytes.HasPrefix(k, prefix) && bytes.Compare(k, end) < 0; k, v = c.Next() {
			r, err := decodeRollup(v)
			if err != nil {
				return fmt.Errorf("rollup of %s @ %s: %w", monitor, checkpoint, err)
			}
			r.Monitor, r.Checkpoint = monitor, checkpoint
			r.Hour = time.Unix(int64(binary.BigEndian.Uint64(k[len(prefix):])), 0).UTC()
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// LatestResults returns the latest stored result of each monitor × checkpoint that has one and
// for which want(monitor, checkpoint) holds, by monitor then checkpoint name: of one monitor when
// monitor is not empty (read by a prefix seek), else of all. A result deleted past retention is
// left out.
func (s *Store) LatestResults(monitor string, want func(monitor, checkpoint string) bool) ([]*pb.RunResult, error) {
	var out []*pb.RunResult
	var prefix []byte
	if monitor != "" {
		prefix = seriesKey(monitor, "")[:len(monitor)+1]
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		results := tx.Bucket(bResults)
		c := tx.Bucket(bLatest).Cursor()
		for k, seq := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, seq = c.Next() {
			m, cp, _ := bytes.Cut(k, []byte{0})
			if !want(string(m), string(cp)) {
				continue
			}
			if len(seq) < 8 {
				continue
			}
			seq = seq[:8] // the entry's sequence; its order follows
			v := results.Get(seq)
			if v == nil {
				continue
			}
			res := &pb.RunResult{}
			if err := decodeResult(v, res); err != nil {
				return fmt.Errorf("result %d: %w", binary.BigEndian.Uint64(seq), err)
			}
			out = append(out, res)
		}
		return nil
	})
	return out, err
}

// PruneRollups deletes rollups of hours that began before now minus retention, in transactions of
// at most pruneChunk records, and returns how many it deleted. Zero retention keeps them forever.
func (s *Store) PruneRollups(ctx context.Context, retention time.Duration, now time.Time) (int, error) {
	if retention <= 0 {
		return 0, nil
	}
	cut := uint64(now.Add(-retention).Unix())
	total := 0
	for ctx.Err() == nil {
		var old [][]byte
		if err := s.db.View(func(tx *bolt.Tx) error { old = oldRollups(tx, cut); return nil }); err != nil || len(old) == 0 {
			return total, err
		}
		err := s.group.update(func(tx *bolt.Tx) error {
			for _, k := range old {
				if err := tx.Bucket(bRollups).Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += len(old)
		if len(old) < pruneChunk {
			return total, nil
		}
	}
	return total, ctx.Err()
}

// oldRollups lists up to pruneChunk keys of rollups older than cut: within each series the keys
// are in time order, so it reads each series' old head and seeks past the rest of the series.
func oldRollups(tx *bolt.Tx, cut uint64) [][]byte {
	var keys [][]byte
	c := tx.Bucket(bRollups).Cursor()
	for k, _ := c.First(); k != nil && len(keys) < pruneChunk; {
		if len(k) < 8 {
			k, _ = c.Next()
			continue
		}
		prefix := k[:len(k)-8]
		if binary.BigEndian.Uint64(k[len(k)-8:]) < cut {
			keys = append(keys, bytes.Clone(k))
			k, _ = c.Next()
			continue
		}
		k, _ = c.Seek(append(bytes.Clone(prefix), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
	}
	return keys
}

// ResultSequenceBefore returns the sequence after which the results stored at or after t begin, for
// a replay from t: results are stored in sequence order, so it binary-searches the sequences with
// O(log n) seeks instead of reading every result before t.
func (s *Store) ResultSequenceBefore(t time.Time) (uint64, error) {
	var before uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bResults).Cursor()
		first, _ := c.First()
		last, _ := c.Last()
		if first == nil {
			return nil
		}
		// The smallest x whose first result at or after it was stored at or after t (or that has
		// none): a property that holds from some x on, found by bisection.
		lo, hi := binary.BigEndian.Uint64(first), binary.BigEndian.Uint64(last)+1
		for lo < hi {
			mid := lo + (hi-lo)/2
			k, v := c.Seek(seqKey(mid))
			res := &pb.RunResult{}
			if err := decodeResult(v, res); err != nil {
				return fmt.Errorf("result %d: %w", binary.BigEndian.Uint64(k), err)
			}
			if stored, ok := storedAt(res); ok && stored.Before(t) {
				lo = binary.BigEndian.Uint64(k) + 1 // no x up to k qualifies
			} else {
				hi = mid
			}
		}
		before = lo - 1
		return nil
	})
	return before, err
}
