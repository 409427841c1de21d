package store

import (
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
