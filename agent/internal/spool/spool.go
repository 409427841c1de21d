// Package spool keeps an agent's results on disk until the controller acknowledges them. It is a
// bbolt file in the agent's state directory: results survive an agent restart and a controller
// outage, are replayed in the order they were spooled, and the file stays within a bound (the
// oldest results are dropped, and counted, when a new one would not fit).
package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bResults = []byte("results")

// Defaults bound a spool when Limits leaves a field zero.
const (
	DefaultMaxEntries = 10000
	DefaultMaxBytes   = 64 << 20
)

// Limits bound what a spool holds.
type Limits struct {
	MaxEntries int
	MaxBytes   int64
}

// Entry is one spooled result: its spool sequence (the replay order) and its encoded bytes.
type Entry struct {
	Seq  uint64
	Data []byte
}

// Spool is a bounded, ordered, durable queue of encoded results. It is safe for concurrent use.
type Spool struct {
	db      *bolt.DB
	lim     Limits
	mu      sync.Mutex
	n       int
	size    int64
	dropped atomic.Uint64
}

// Open opens (or creates) the spool file at path. Results left from an earlier run are kept.
func Open(path string, lim Limits) (*Spool, error) {
	if lim.MaxEntries <= 0 {
		lim.MaxEntries = DefaultMaxEntries
	}
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = DefaultMaxBytes
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("opening the result spool %s: %w", path, err)
	}
	s := &Spool{db: db, lim: lim}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bResults)
		if err != nil {
			return err
		}
		return b.ForEach(func(_, v []byte) error {
			s.n++
			s.size += int64(len(v))
			return nil
		})
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("reading the result spool %s: %w", path, err)
	}
	return s, nil
}

// ErrTooLarge refuses a single result bigger than the whole spool may hold.
var ErrTooLarge = errors.New("result is larger than the spool's byte limit")

// Put spools data and returns its sequence. When the spool is full, the oldest results are dropped
// to make room; dropped says how many.
func (s *Spool) Put(data []byte) (seq uint64, dropped int, err error) {
	if int64(len(data)) > s.lim.MaxBytes {
		s.dropped.Add(1)
		return 0, 1, fmt.Errorf("%w (%d > %d bytes)", ErrTooLarge, len(data), s.lim.MaxBytes)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, size := s.n, s.size
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bResults)
		c := b.Cursor()
		for k, v := c.First(); k != nil && (n+1 > s.lim.MaxEntries || size+int64(len(data)) > s.lim.MaxBytes); k, v = c.First() {
			size -= int64(len(v))
			n--
			dropped++
			if err := c.Delete(); err != nil {
				return err
			}
		}
		var err error
		if seq, err = b.NextSequence(); err != nil {
			return err
		}
		return b.Put(key(seq), data)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("spooling a result: %w", err)
	}
	s.n, s.size = n+1, size+int64(len(data))
	s.dropped.Add(uint64(dropped))
	return seq, dropped, nil
}

// Delete removes a result (acknowledged or refused for good). Deleting a missing one is not an error.
func (s *Spool) Delete(seq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var gone int64 = -1
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bResults)
		v := b.Get(key(seq))
		if v == nil {
			return nil
		}
		gone = int64(len(v))
		return b.Delete(key(seq))
	})
	if err != nil {
		return fmt.Errorf("removing spooled result %d: %w", seq, err)
	}
	if gone >= 0 {
		s.n--
		s.size -= gone
	}
	return nil
}

// Pending returns up to max spooled results (all if max <= 0), oldest first.
func (s *Spool) Pending(max int) ([]Entry, error) {
	var out []Entry
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bResults).Cursor()
		for k, v := c.First(); k != nil && (max <= 0 || len(out) < max); k, v = c.Next() {
			out = append(out, Entry{Seq: binary.BigEndian.Uint64(k), Data: append([]byte(nil), v...)})
		}
		return nil
	})
	return out, err
}

// Len is the number of spooled results.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// Bytes is the total size of the spooled results.
func (s *Spool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// Dropped counts results this process dropped because the spool was full.
func (s *Spool) Dropped() uint64 { return s.dropped.Load() }

// Close closes the file.
func (s *Spool) Close() error { return s.db.Close() }

func key(seq uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seq)
	return b[:]
}
