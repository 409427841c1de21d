package store

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"google.golang.org/protobuf/proto"
)

// Errors the API layer maps to gRPC codes.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
)

var (
	bMonitors        = []byte("monitors")
	bMonitorNames    = []byte("monitor_names")
	bCheckpoints     = []byte("checkpoints")
	bCheckpointNames = []byte("checkpoint_names")
	bAgents          = []byte("agents")
	bTokens          = []byte("enrollment_tokens")
	bRuns            = []byte("runs")
	bOpenRuns        = []byte("runs_open")
	bResults         = []byte("results")
	bAudit           = []byte("audit")
)

// Store is the controller's state.
type Store struct {
	db     *bolt.DB
	group  *committer // run-table, result and audit writes (group.go)
	agents agentCache // agent records for the per-call identity check (agentcache.go)
	// monitorsGen counts committed monitor changes (MonitorsGeneration).
	monitorsGen atomic.Uint64
	now         func() time.Time
	hooks       hookHolder // the result hook alerting sets (alerts.go)
}

// Open opens (creating) dataDir/lookout.db. It fails after a second if another process holds it.
func Open(dataDir string) (*Store, error) {
	path := filepath.Join(dataDir, "lookout.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("data file %s is in use by another process (is a controller already running on this data dir?)", path)
		}
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	s := &Store{db: db, now: time.Now}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bMonitors, bMonitorNames, bCheckpoints, bCheckpointNames, bAgents, bTokens, bRuns, bOpenRuns, bResults, bAudit, bLatest, bRollups} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("preparing %s: %w", path, err)
	}
	s.group = newCommitter(db)
	return s, nil
}

// ObserveCommits calls fn after every group transaction that committed (run table, results,
// audit, monitors) with how many write calls it carried (a dispatcher round is one) and how long
// it took, fsync included; for metrics.
func (s *Store) ObserveCommits(fn func(writes int, took time.Duration)) {
	s.group.observe.Store(&fn)
}

// DB is the bbolt handle, for the vault's own buckets.
func (s *Store) DB() *bolt.DB { return s.db }

// Close commits the writes already queued, then closes the file.
func (s *Store) Close() error {
	s.group.close()
	return s.db.Close()
}

// NewID returns prefix + 24 hex characters: 6 bytes of milliseconds (so keys sort by creation time)
// and 6 random bytes. The alphabet is [a-z0-9_], safe inside a NATS subject.
func NewID(prefix string) string { return newIDAt(prefix, time.Now()) }

// newIDAt is NewID as it would have been at t.
func newIDAt(prefix string, t time.Time) string {
	var b [12]byte
	ms := uint64(t.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	rand.Read(b[6:]) // never returns an error (Go 1.24+): NewID runs inside transactions, so it must not panic
	return prefix + hex.EncodeToString(b[:])
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

// appendOnly returns a bucket whose keys only ever grow (sequence numbers), filled to the brim:
// bbolt's default half-full split suits random inserts and would double the pages (and the pages
// each commit writes) of an append-only log.
func appendOnly(tx *bolt.Tx, name []byte) *bolt.Bucket {
	b := tx.Bucket(name)
	b.FillPercent = 0.95
	return b
}

// runsBucket returns the run table, split at runsFill. Run ids begin with their creation time, so
// runs are inserted about in key order and bbolt's default half-full split leaves most pages half
// empty; but a record grows by about a quarter after it is inserted (the claim, the result's
// summary), and a page filled to the brim at insert splits again when its records grow.
func runsBucket(tx *bolt.Tx) *bolt.Bucket {
	b := tx.Bucket(bRuns)
	b.FillPercent = runsFill
	return b
}

const runsFill = 0.75

func putProto(b *bolt.Bucket, key string, m proto.Message) error {
	data, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), data)
}

func getProto(b *bolt.Bucket, key string, m proto.Message) error {
	data := b.Get([]byte(key))
	if data == nil {
		return ErrNotFound
	}
	return proto.Unmarshal(data, m)
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

func getJSON(b *bolt.Bucket, key []byte, v any) error {
	data := b.Get(key)
	if data == nil {
		return ErrNotFound
	}
	return json.Unmarshal(data, v)
}
