package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// AuditEntry records who did what. It names items, never their values.
type AuditEntry struct {
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`  // "admin" or an agent id
	Action string    `json:"action"` // e.g. "fetch_run_secrets", "denied_fetch_run_secrets"
	Target string    `json:"target"` // run id, item name …
	Detail string    `json:"detail,omitempty"`
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

// AuditFilter selects audit entries: each field that is set must match exactly.
type AuditFilter struct {
	Since                  time.Time // entries written at or after it; zero: any
	Actor, Action, Target string
}

func (f AuditFilter) match(e AuditEntry) bool {
	return (f.Actor == "" || e.Actor == f.Actor) && (f.Action == "" || e.Action == f.Action) && (f.Target == "" || e.Target == f.Target)
}

// AuditEntries returns the newest limit entries that match f, oldest first, with their sequence
// numbers, and whether older matches were left out. It reads from the newest entry back and stops
// at the limit or at the first entry older than f.Since, so a recent query on a long log is cheap.
func (s *Store) AuditEntries(f AuditFilter, limit int) (entries []AuditEntry, seqs []uint64, truncated bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bAudit)
		c := b.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var e AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("audit entry %d: %w", binary.BigEndian.Uint64(k), err)
			}
			if !f.Since.IsZero() && e.Time.Before(f.Since) {
				return nil
			}
			if !f.match(e) {
				continue
			}
			if len(entries) == limit {
				truncated = true
				return nil
			}
			entries = append(entries, e)
			seqs = append(seqs, binary.BigEndian.Uint64(k))
		}
		return nil
	})
	slices.Reverse(entries)
	slices.Reverse(seqs)
	return entries, seqs, truncated, err
}
