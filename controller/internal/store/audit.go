package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// AuditEntry records who did what. It names items, never their values.
type AuditEntry struct {
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`  // "admin" or an agent id
	Action string    `json:"action"` // e.g. "fetch_run_secrets", "denied_fetch_run_secrets"
	Target string    `json:"target"` // run id, item name …
	// Seq is the entry's place in the log (its key), filled in by AuditEntries; not stored.
	Seq    uint64 `json:"-"`
	Detail string `json:"detail,omitempty"`
}

// Audit appends an entry.
func (s *Store) Audit(e AuditEntry) error {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	return s.group.update(func(tx *bolt.Tx) error { return appendAudit(tx, e) })
}

func appendAudit(tx *bolt.Tx, e AuditEntry) error {
	b := appendOnly(tx, bAudit)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	return putJSON(b, seqKey(seq), e)
}

// AuditLog returns every entry in order.
func (s *Store) AuditLog() ([]AuditEntry, error) {
	var out []AuditEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bAudit).ForEach(func(k, _ []byte) error {
			var e AuditEntry
			if err := getJSON(tx.Bucket(bAudit), k, &e); err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	})
	return out, err
}

// AuditFilter selects audit entries: each field that is set must match exactly, except that an
// Actor also matches the refusals of that actor from any address ("token:ci from 10.0.0.7").
type AuditFilter struct {
	Since                 time.Time // entries written at or after it; zero: any
	Actor, Action, Target string
}

func (f AuditFilter) match(e AuditEntry) bool {
	return (f.Actor == "" || e.Actor == f.Actor || strings.HasPrefix(e.Actor, f.Actor+" from ")) &&
		(f.Action == "" || e.Action == f.Action) && (f.Target == "" || e.Target == f.Target)
}

// Bounds of one AuditEntries call: it reads auditScanChunk entries per read transaction (a long
// read transaction would hold back the writer if the file has to grow) and at most auditScanMax in
// all, so a query that matches little on a long log ends instead of reading all of it.
var (
	auditScanChunk = 10_000
	auditScanMax   = 1_000_000
	// auditBetweenReads, when set (by tests), runs between two read transactions of one scan,
	// with the sequence the next one starts at: the pruner may delete entries there.
	auditBetweenReads func(next uint64)
)

// AuditEntries returns the newest limit entries that match f, oldest first, with Seq set, and
// whether older entries may match too (the limit was reached, or the scan stopped at
// auditScanMax entries). It reads from the newest entry back and stops at the first entry older
// than f.Since, so a recent query on a long log is cheap.
func (s *Store) AuditEntries(ctx context.Context, f AuditFilter, limit int) (entries []AuditEntry, truncated bool, err error) {
	next := uint64(math.MaxUint64) // read entries with sequence ≤ next, newest first
	done := false
	for scanned := 0; !done; {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		if scanned >= auditScanMax {
			truncated = true
			break
		}
		err := s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bAudit).Cursor()
			k, v := c.Seek(seqKey(next))
			if k == nil {
				k, v = c.Last()
			} else if binary.BigEndian.Uint64(k) > next {
				k, v = c.Prev()
			}
			for n := 0; ; k, v = c.Prev() {
				if k == nil {
					done = true
					return nil
				}
				seq := binary.BigEndian.Uint64(k)
				if n == auditScanChunk {
					next = seq // the next transaction starts here
					return nil
				}
				n++
				scanned++
				e := AuditEntry{Seq: seq}
				if err := json.Unmarshal(v, &e); err != nil {
					return fmt.Errorf("audit entry %d: %w", seq, err)
				}
				if !f.Since.IsZero() && e.Time.Before(f.Since) {
					done = true
					return nil
				}
				if !f.match(e) {
					continue
				}
				if len(entries) == limit {
					truncated, done = true, true
					return nil
				}
				entries = append(entries, e)
			}
		})
		if err != nil {
			return nil, false, err
		}
		if !done && auditBetweenReads != nil {
			auditBetweenReads(next)
		}
	}
	slices.Reverse(entries)
	return entries, truncated, nil
}
