package store

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// maxGroup caps how many writes share one transaction. At 512 a commit stays a few milliseconds
// even on a slow disk, and bbolt's per-record cost is already near its floor (~135k/s at 1,000).
const maxGroup = 512

// committer group-commits writes. It is not bbolt's DB.Batch, which waits up to MaxBatchDelay
// (10 ms) for company: here the first write commits at once when no commit is in flight, and the
// writes that arrive while one is in flight are coalesced into the next transaction (up to
// maxGroup). Each caller returns only after its own transaction is committed and fsync'd.
//
// A write that fails leaves the others in its group unharmed: the transaction is rolled back, the
// writes before it are committed again on their own, the failed one returns its error (computed on
// exactly the state those writes leave), and the writes after it go into the next transaction.
// So every write behaves as if it ran alone, in arrival order; a write function must therefore be
// a pure function of the transaction (it may run more than once; only its last run counts).
type committer struct {
	db    *bolt.DB
	mu    sync.Mutex
	queue []*groupCall
	shut  bool
	wake  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	// observe, when set, is told of every group transaction that committed: how many write calls
	// it carried and how long it took (the calls, the commit and its fsyncs).
	observe atomic.Pointer[func(writes int, took time.Duration)]
}

type groupCall struct {
	fn   func(*bolt.Tx) error
	done chan error
}

func newCommitter(db *bolt.DB) *committer {
	g := &committer{db: db, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go g.loop()
	return g
}

// update runs fn in a group-committed read-write transaction and returns once that transaction is
// durable (or failed).
func (g *committer) update(fn func(*bolt.Tx) error) error {
	wait, err := g.submit(fn)
	if err != nil {
		return err
	}
	return wait()
}

// submit queues fn and returns a function that waits until its transaction is durable (or failed).
// A write submitted later runs after fn, in the same transaction or a later one, so it sees what
// fn wrote. It fails at once, queueing nothing, once the committer is closed.
func (g *committer) submit(fn func(*bolt.Tx) error) (wait func() error, err error) {
	c := &groupCall{fn: fn, done: make(chan error, 1)}
	g.mu.Lock()
	if g.shut {
		g.mu.Unlock()
		return nil, berrors.ErrDatabaseNotOpen
	}
	g.queue = append(g.queue, c)
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default: // the committer is already awake and will see the queue
	}
	return func() error { return <-c.done }, nil
}

// close commits what is queued and stops the committer; later updates fail.
func (g *committer) close() {
	g.mu.Lock()
	if g.shut {
		g.mu.Unlock()
		return
	}
	g.shut = true
	g.mu.Unlock()
	close(g.stop)
	<-g.done
}

func (g *committer) loop() {
	defer close(g.done)
	for {
		select {
		case <-g.wake:
		case <-g.stop:
			g.flush()
			return
		}
		g.flush()
	}
}

// flush commits the queue, maxGroup writes per transaction, until it is empty.
func (g *committer) flush() {
	for {
		g.mu.Lock()
		n := min(len(g.queue), maxGroup)
		batch := g.queue[:n:n]
		g.queue = g.queue[n:]
		if len(g.queue) == 0 {
			g.queue = nil // let the backing array go
		}
		g.mu.Unlock()
		if n == 0 {
			return
		}
		g.commit(batch)
	}
}

// errRollback aborts a group's transaction when one of its writes fails.
var errRollback = errors.New("store: group write failed; rolling back")

// commit runs batch in one transaction. See the type's comment for what happens when a write fails.
func (g *committer) commit(batch []*groupCall) {
	for len(batch) > 0 {
		failed, ferr := -1, error(nil)
		start := time.Now()
		err := g.db.Update(func(tx *bolt.Tx) error {
			for i, c := range batch {
				if err := runGuarded(c.fn, tx); err != nil {
					failed, ferr = i, err
					return errRollback
				}
			}
			return nil
		})
		if obs := g.observe.Load(); obs != nil && failed < 0 && err == nil {
			(*obs)(len(batch), time.Since(start))
		}
		if failed < 0 {
			for _, c := range batch {
				c.done <- err // nil, or the commit's own error (all of them share it)
			}
			return
		}
		if failed > 0 {
			g.commit(batch[:failed])
		}
		batch[failed].done <- ferr
		batch = batch[failed+1:]
	}
}

// runGuarded runs fn, turning a panic into that write's error so one bad write cannot stop the
// committer and strand every other caller.
func runGuarded(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: write panicked: %v", p)
		}
	}()
	return fn(tx)
}
