package spool

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
)

func open(t *testing.T, path string, lim Limits) *Spool {
	t.Helper()
	s, err := Open(path, lim)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOrderDeleteAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	s := open(t, path, Limits{})
	var seqs []uint64
	for i := range 5 {
		seq, dropped, err := s.Put(fmt.Appendf(nil, "result-%d", i))
		if err != nil || dropped != 0 {
			t.Fatalf("put %d: dropped %d, %v", i, dropped, err)
		}
		seqs = append(seqs, seq)
	}
	if err := s.Delete(seqs[1]); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(seqs[1]); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path, Limits{})
	defer s.Close()
	if s.Len() != 4 || s.Bytes() != int64(4*len("result-0")) {
		t.Fatalf("after reopen: %d results, %d bytes", s.Len(), s.Bytes())
	}
	got, err := s.Pending(0)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"result-0", "result-2", "result-3", "result-4"}
	if len(got) != len(want) {
		t.Fatalf("pending: %d, want %d", len(got), len(want))
	}
	for i, e := range got {
		if string(e.Data) != want[i] || (i > 0 && e.Seq <= got[i-1].Seq) {
			t.Fatalf("pending[%d] = %d %q, want %q in sequence order", i, e.Seq, e.Data, want[i])
		}
	}
	// New results go after the ones left from before the restart.
	seq, _, err := s.Put([]byte("result-5"))
	if err != nil || seq <= seqs[4] {
		t.Fatalf("put after reopen: seq %d (last before %d), %v", seq, seqs[4], err)
	}
	if first, _ := s.Pending(1); len(first) != 1 || string(first[0].Data) != "result-0" {
		t.Fatalf("pending(1) = %v", first)
	}
}

func TestBoundDropsOldestAndCounts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	s := open(t, path, Limits{MaxEntries: 3, MaxBytes: 1 << 20})
	total := 0
	for i := range 5 {
		_, dropped, err := s.Put(fmt.Appendf(nil, "r%d", i))
		if err != nil {
			t.Fatal(err)
		}
		total += dropped
	}
	if total != 2 || s.Dropped() != 2 || s.Len() != 3 {
		t.Fatalf("dropped %d (counter %d), holding %d; want 2 dropped, 3 held", total, s.Dropped(), s.Len())
	}
	got, _ := s.Pending(0)
	if len(got) != 3 || string(got[0].Data) != "r2" || string(got[2].Data) != "r4" {
		t.Fatalf("kept %v, want r2..r4", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A byte bound: 10-byte results under a 25-byte limit keep two.
	s = open(t, filepath.Join(t.TempDir(), "bytes.db"), Limits{MaxEntries: 100, MaxBytes: 25})
	defer s.Close()
	for i := range 4 {
		if _, _, err := s.Put(bytes.Repeat([]byte{byte('a' + i)}, 10)); err != nil {
			t.Fatal(err)
		}
	}
	if s.Len() != 2 || s.Bytes() != 20 || s.Dropped() != 2 {
		t.Fatalf("byte bound: %d held, %d bytes, %d dropped", s.Len(), s.Bytes(), s.Dropped())
	}
	if got, _ := s.Pending(0); got[0].Data[0] != 'c' || got[1].Data[0] != 'd' {
		t.Fatalf("byte bound kept %q, %q; want the newest two", got[0].Data, got[1].Data)
	}
	if _, _, err := s.Put(make([]byte, 26)); !errors.Is(err, ErrTooLarge) || s.Dropped() != 3 || s.Len() != 2 {
		t.Fatalf("oversized result: %v, dropped %d, held %d", err, s.Dropped(), s.Len())
	}
}

func TestSecondOpenOfALockedFileFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	s := open(t, path, Limits{})
	defer s.Close()
	if s2, err := Open(path, Limits{}); err == nil {
		s2.Close()
		t.Fatal("a second process-level open of a locked spool succeeded")
	}
}
