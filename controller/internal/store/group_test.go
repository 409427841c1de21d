package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// Concurrent claims and reports, mixed with refused reports, all land: after a reopen every run is
// done with exactly one result, and the refused calls changed nothing.
func TestGroupCommitConcurrentWritersAreDurableAfterReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	now := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Add(2)
		id := fmt.Sprintf("run-%03d", i)
		go func() {
			defer wg.Done()
			r := &pb.Run{RunId: id, CheckpointId: "cp-1", Attempt: 1, State: pb.RunState_RUN_STATE_DISPATCHED,
				ScheduledAt: timestamppb.New(now), Deadline: timestamppb.New(now.Add(time.Hour))}
			if err := s.CreateRuns([]*pb.Run{r}); err != nil {
				errs <- err
				return
			}
			if _, err := s.ClaimRun(id, 1, agentA); err != nil {
				errs <- err
				return
			}
			if _, _, err := s.CompleteRun(&pb.RunResult{RunId: id, Attempt: 1, Outcome: pb.Outcome_OUTCOME_PASSED}, agentA); err != nil {
				errs <- err
			}
		}()
		go func() { // a report from another checkpoint's agent: refused whether or not the run exists yet
			defer wg.Done()
			if _, _, err := s.CompleteRun(&pb.RunResult{RunId: id, Attempt: 1, Outcome: pb.Outcome_OUTCOME_FAILED}, other); err == nil {
				errs <- fmt.Errorf("report of %s by another checkpoint's agent was accepted", id)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seqs := map[uint64]bool{}
	got := map[string]pb.Outcome{}
	_ = s.Results(0, func(r *pb.RunResult) bool { got[r.RunId] = r.Outcome; seqs[r.Sequence] = true; return true })
	want := map[string]pb.Outcome{}
	for i := range n {
		want[fmt.Sprintf("run-%03d", i)] = pb.Outcome_OUTCOME_PASSED
	}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("stored results after reopen (-got +want):\n%s", d)
	}
	if len(seqs) != n {
		t.Errorf("distinct result sequences = %d, want %d", len(seqs), n)
	}
	if c := s.OpenRunCount(); c != 0 {
		t.Errorf("open runs after reopen = %d, want 0", c)
	}
}

// Writes queued behind a commit in flight share the next transaction; the ones that fail (after
// writing something) return their error and leave no trace, and every other write is committed.
func TestGroupCommitAFailingWriteDoesNotLoseTheOthers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	bucket := []byte("group_test")
	if err := s.db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(bucket); return err }); err != nil {
		t.Fatal(err)
	}
	// Hold the committer inside a first write until every other write is queued behind it.
	release, entered := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- s.group.update(func(tx *bolt.Tx) error {
			close(entered)
			<-release
			return tx.Bucket(bucket).Put([]byte("first"), nil)
		})
	}()
	<-entered
	const n = 100
	errBad := errors.New("bad write")
	fails := func(i int) bool { return i%7 == 3 }
	var mu sync.Mutex
	txOf := map[int]int{} // write → id of the transaction its last run was in
	results := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.group.update(func(tx *bolt.Tx) error {
				if err := tx.Bucket(bucket).Put(fmt.Appendf(nil, "k%03d", i), nil); err != nil {
					return err
				}
				mu.Lock()
				txOf[i] = tx.ID()
				mu.Unlock()
				if fails(i) {
					return fmt.Errorf("write %d: %w", i, errBad)
				}
				return nil
			})
		}()
	}
	waitQueued(t, s.group, n)
	close(release)
	wg.Wait()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	txs := map[int]bool{}
	for i, err := range results {
		if fails(i) != errors.Is(err, errBad) {
			t.Errorf("write %d returned %v", i, err)
		}
		if !fails(i) {
			txs[txOf[i]] = true
		}
	}
	if len(txs) > 20 { // 86 good writes around 14 failures: at most 15 runs of good ones, plus retries
		t.Errorf("good writes went into %d transactions; want them grouped", len(txs))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []string
	_ = s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, _ []byte) error { got = append(got, string(k)); return nil })
	})
	want := []string{"first"}
	for i := range n {
		if !fails(i) {
			want = append(want, fmt.Sprintf("k%03d", i))
		}
	}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("keys after reopen (-got +want):\n%s", d)
	}
}

func waitQueued(t *testing.T, g *committer, n int) {
	t.Helper()
	testutil.EventuallyValue(t, fmt.Sprintf("%d writes to queue behind the held commit", n), 10*time.Second, func() (int, error) {
		g.mu.Lock()
		q := len(g.queue)
		g.mu.Unlock()
		if q != n {
			return q, fmt.Errorf("%d queued", q)
		}
		return q, nil
	})
}
