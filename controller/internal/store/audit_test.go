package store

import (
	"fmt"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestAuditEntriesNewestMatchesOldestFirst: filters match exactly, the limit keeps the newest
// matches and says older ones were left out, since stops the scan, and sequences come back in order.
func TestAuditEntriesNewestMatchesOldestFirst(t *testing.T) {
	s, now, _ := runFixture(t)
	for i := range 10 {
		actor := "admin"
		if i%2 == 1 {
			actor = "ag_1"
		}
		e := AuditEntry{Time: now.Add(time.Duration(i-10) * time.Hour), Actor: actor, Action: fmt.Sprintf("act%d", i%3), Target: fmt.Sprintf("t%d", i)}
		if err := s.Audit(e); err != nil {
			t.Fatal(err)
		}
	}
	targets := func(es []AuditEntry) string {
		var out []string
		for _, e := range es {
			out = append(out, e.Target)
		}
		return fmt.Sprint(out)
	}
	check := func(t *testing.T) {
		for _, tc := range []struct {
			name      string
			f         AuditFilter
			limit     int
			want      string
			truncated bool
		}{
			{"all", AuditFilter{}, 100, "[t0 t1 t2 t3 t4 t5 t6 t7 t8 t9]", false},
			{"newest three", AuditFilter{}, 3, "[t7 t8 t9]", true},
			{"exactly as many as match", AuditFilter{Actor: "ag_1"}, 5, "[t1 t3 t5 t7 t9]", false},
			{"actor and action", AuditFilter{Actor: "admin", Action: "act0"}, 100, "[t0 t6]", false},
			{"target", AuditFilter{Target: "t4"}, 100, "[t4]", false},
			{"since", AuditFilter{Since: now.Add(-3 * time.Hour)}, 100, "[t7 t8 t9]", false},
			{"since and limit", AuditFilter{Since: now.Add(-3 * time.Hour)}, 2, "[t8 t9]", true},
			{"no match", AuditFilter{Actor: "nobody"}, 100, "[]", false},
		} {
			got, truncated, err := s.AuditEntries(t.Context(), tc.f, tc.limit)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if targets(got) != tc.want || truncated != tc.truncated {
				t.Errorf("%s: %s truncated=%v, want %s truncated=%v", tc.name, targets(got), truncated, tc.want, tc.truncated)
			}
			for i := 1; i < len(got); i++ {
				if got[i].Seq <= got[i-1].Seq {
					t.Errorf("%s: sequences %d then %d, not increasing", tc.name, got[i-1].Seq, got[i].Seq)
				}
			}
		}
	}
	t.Run("one read", check)
	// The same answers when the scan takes several read transactions of three entries each.
	chunk := auditScanChunk
	auditScanChunk = 3
	defer func() { auditScanChunk = chunk }()
	t.Run("reads of three", check)

	// A scan that reaches its cap stops there and says older entries may match.
	limit := auditScanMax
	auditScanMax = 6
	defer func() { auditScanMax = limit }()
	got, truncated, err := s.AuditEntries(t.Context(), AuditFilter{Actor: "admin"}, 100)
	if err != nil || targets(got) != "[t4 t6 t8]" || !truncated {
		t.Errorf("capped at 6 entries: %s truncated=%v %v, want [t4 t6 t8] truncated", targets(got), truncated, err)
	}
}

// TestAuditEntriesResumeWhereThePrunerDeleted: between two read transactions of one scan the pruner
// may delete the entry the next one starts at, and those older than it; the scan goes on from the
// newest entry left below, missing none and reading none twice.
func TestAuditEntriesResumeWhereThePrunerDeleted(t *testing.T) {
	chunk := auditScanChunk
	auditScanChunk = 3
	t.Cleanup(func() { auditScanChunk, auditBetweenReads = chunk, nil })
	for _, tc := range []struct {
		name  string
		older int // entries below the resume point deleted with it
		want  string
	}{
		{"the resume point", 0, "[t0 t1 t2 t3 t4 t5 t7 t8 t9]"},
		{"it and two older", 2, "[t0 t1 t2 t3 t7 t8 t9]"},
		{"it and everything older", 6, "[t7 t8 t9]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, now, _ := runFixture(t)
			for i := range 10 {
				if err := s.Audit(AuditEntry{Time: now.Add(time.Duration(i-10) * time.Hour), Actor: "admin", Action: "a", Target: fmt.Sprintf("t%d", i)}); err != nil {
					t.Fatal(err)
				}
			}
			once := false
			auditBetweenReads = func(next uint64) {
				if once {
					return
				}
				once = true
				err := s.DB().Update(func(tx *bolt.Tx) error {
					for seq := next; seq+uint64(tc.older) >= next && seq > 0; seq-- {
						if err := tx.Bucket(bAudit).Delete(seqKey(seq)); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			got, truncated, err := s.AuditEntries(t.Context(), AuditFilter{}, 100)
			if err != nil || truncated {
				t.Fatalf("scan: %v truncated=%v", err, truncated)
			}
			var targets []string
			for _, e := range got {
				targets = append(targets, e.Target)
			}
			if fmt.Sprint(targets) != tc.want {
				t.Errorf("after deleting %s: %v, want %s", tc.name, targets, tc.want)
			}
		})
	}
}

// TestAuditActorMatchesItsRefusalsFromAnyAddress: refusals are written as "ACTOR from HOST", and
// a filter on ACTOR finds them with the actor's own entries, but not another actor whose name
// only begins the same.
func TestAuditActorMatchesItsRefusalsFromAnyAddress(t *testing.T) {
	s, now, _ := runFixture(t)
	for i, actor := range []string{"token:ci", "token:ci from 10.0.0.7", "token:ci from ::1", "token:cid", "token:cid from 10.0.0.7", "admin"} {
		if err := s.Audit(AuditEntry{Time: now.Add(time.Duration(i) * time.Second), Actor: actor, Action: "a", Target: fmt.Sprintf("t%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	es, _, err := s.AuditEntries(t.Context(), AuditFilter{Actor: "token:ci"}, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Actor)
	}
	if want := "[token:ci token:ci from 10.0.0.7 token:ci from ::1]"; fmt.Sprint(got) != want {
		t.Fatalf("--actor token:ci matched %q, want %s", got, want)
	}
}
