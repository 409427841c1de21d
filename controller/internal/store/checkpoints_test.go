package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

const testToken = "lkt_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"

// tokenFixture opens a real bbolt file with a clock the test moves and one private checkpoint.
func tokenFixture(t *testing.T) (*Store, *time.Time, *pb.Checkpoint, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	cp, err := s.EnsureCheckpoint("site-a", pb.CheckpointKind_CHECKPOINT_KIND_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	return s, &now, cp, dir
}

func TestTokenIsStoredOnlyAsAHashWithItsCheckpoint(t *testing.T) {
	t.Parallel()
	s, now, cp, dir := tokenFixture(t)
	if err := s.CreateToken(testToken, cp.Id, time.Hour); err != nil {
		t.Fatal(err)
	}
	var rec tokenRecord
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bTokens).ForEach(func(k, _ []byte) error {
			n++
			if !bytes.Equal(k, hashToken(testToken)) {
				return fmt.Errorf("token stored under %x, want its SHA-256", k)
			}
			return getJSON(tx.Bucket(bTokens), k, &rec)
		})
	})
	if err != nil || n != 1 {
		t.Fatalf("tokens stored: %d (%v), want 1", n, err)
	}
	want := tokenRecord{CheckpointID: cp.Id, CheckpointName: "site-a", Kind: pb.CheckpointKind_CHECKPOINT_KIND_PRIVATE,
		CreatedAt: *now, ExpiresAt: now.Add(time.Hour), MaxUses: 1}
	if rec != want {
		t.Errorf("token record = %+v, want %+v", rec, want)
	}
	s.Close()
	raw, err := os.ReadFile(filepath.Join(dir, "lookout.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(testToken)) || bytes.Contains(raw, []byte(testToken[4:])) {
		t.Error("the data file contains the enrollment token in clear")
	}
}

func TestTokenRefusals(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		prepare func(t *testing.T, s *Store, now *time.Time, cp *pb.Checkpoint)
		want    error
		words   string
	}{
		"unknown": {func(*testing.T, *Store, *time.Time, *pb.Checkpoint) {}, ErrTokenUnknown, "not valid"},
		"expired": {func(t *testing.T, s *Store, now *time.Time, cp *pb.Checkpoint) {
			if err := s.CreateToken(testToken, cp.Id, time.Minute); err != nil {
				t.Fatal(err)
			}
			*now = now.Add(time.Minute + time.Second)
		}, ErrTokenExpired, "expired"},
		"used": {func(t *testing.T, s *Store, _ *time.Time, cp *pb.Checkpoint) {
			if err := s.CreateToken(testToken, cp.Id, time.Minute); err != nil {
				t.Fatal(err)
			}
			if _, err := s.RedeemToken(testToken, Agent{ID: "ag_first"}); err != nil {
				t.Fatal(err)
			}
		}, ErrTokenUsed, "already used"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, now, cp, _ := tokenFixture(t)
			tc.prepare(t, s, now, cp)
			_, err := s.RedeemToken(testToken, Agent{ID: "ag_late"})
			if !errors.Is(err, tc.want) {
				t.Fatalf("RedeemToken: %v, want %v", err, tc.want)
			}
			for _, w := range []string{tc.words, "checkpoint token"} {
				if !bytes.Contains([]byte(err.Error()), []byte(w)) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if _, err := s.Agent("ag_late"); !errors.Is(err, ErrNotFound) {
				t.Errorf("a refused redemption recorded an agent: %v", err)
			}
		})
	}
}

// TestConcurrentRedemptionsHaveOneWinner redeems one token from many goroutines at once.
func TestConcurrentRedemptionsHaveOneWinner(t *testing.T) {
	t.Parallel()
	s, _, cp, _ := tokenFixture(t)
	if err := s.CreateToken(testToken, cp.Id, time.Hour); err != nil {
		t.Fatal(err)
	}
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = s.RedeemToken(testToken, Agent{ID: fmt.Sprintf("ag_%02d", i)})
		})
	}
	close(start)
	wg.Wait()
	winners := 0
	for _, err := range errs {
		switch {
		case err == nil:
			winners++
		case !errors.Is(err, ErrTokenUsed):
			t.Errorf("loser got %v, want ErrTokenUsed", err)
		}
	}
	_, agents, err := s.Checkpoints()
	if err != nil {
		t.Fatal(err)
	}
	if winners != 1 || len(agents) != 1 {
		t.Fatalf("%d redemptions succeeded and %d agents were recorded, want exactly 1 of each", winners, len(agents))
	}
	if agents[0].CheckpointID != cp.Id {
		t.Errorf("the agent belongs to %q, want %q", agents[0].CheckpointID, cp.Id)
	}
}

func TestRevokeCheckpointRevokesEveryInstanceOfThatCheckpointOnly(t *testing.T) {
	t.Parallel()
	s, _, cp, _ := tokenFixture(t)
	other, err := s.EnsureCheckpoint("site-b", pb.CheckpointKind_CHECKPOINT_KIND_PUBLIC)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []*pb.Checkpoint{cp, cp, other} {
		tok := fmt.Sprintf("%s%d", testToken, i)
		if err := s.CreateToken(tok, c.Id, time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RedeemToken(tok, Agent{ID: fmt.Sprintf("ag_%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Agent records are cached for the per-call identity check: read them all first, and keep
	// reading while the revocation commits, so a stale cached record would show below.
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for i := range 3 {
		if a, err := s.Agent(fmt.Sprintf("ag_%d", i)); err != nil || a.Revoked {
			t.Fatalf("agent ag_%d before revocation: revoked=%v, %v", i, a.Revoked, err)
		}
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					_, _ = s.Agent(fmt.Sprintf("ag_%d", i))
				}
			}
		})
	}
	n, err := s.RevokeCheckpoint(cp.Id)
	close(stop)
	readers.Wait()
	if err != nil || n != 2 {
		t.Fatalf("RevokeCheckpoint = %d, %v; want 2 agents", n, err)
	}
	for id, want := range map[string]bool{"ag_0": true, "ag_1": true, "ag_2": false} {
		a, err := s.Agent(id)
		if err != nil || a.Revoked != want {
			t.Errorf("agent %s revoked = %v (%v), want %v", id, a.Revoked, err, want)
		}
	}
	if n, _ := s.RevokeCheckpoint(cp.Id); n != 0 {
		t.Errorf("revoking again changed %d agents, want 0", n)
	}
}

func TestAgentReadsSeeEveryWrite(t *testing.T) {
	t.Parallel()
	s, _, cp, _ := tokenFixture(t)
	if err := s.CreateToken(testToken+"x", cp.Id, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RedeemToken(testToken+"x", Agent{ID: "ag_x"}); err != nil {
		t.Fatal(err)
	}
	if a, err := s.Agent("ag_x"); err != nil || a.Version != "" || a.RunsInFlight != 0 {
		t.Fatalf("new agent = %+v, %v", a, err)
	}
	if _, err := s.TouchAgent("ag_x", "1.2.3", 7, 0); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.Agent("ag_x"); a.Version != "1.2.3" || a.RunsInFlight != 7 {
		t.Errorf("after a heartbeat the agent reads version %q, %d in flight; want 1.2.3 and 7", a.Version, a.RunsInFlight)
	}
	notAfter := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	if err := s.SetAgentCertificate("ag_x", notAfter); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.Agent("ag_x"); !a.CertNotAfter.Equal(notAfter) {
		t.Errorf("after a renewal the agent's certificate ends %v, want %v", a.CertNotAfter, notAfter)
	}
	if _, err := s.Agent("ag_missing"); err == nil {
		t.Error("an unknown agent was found")
	}
}

// TestTokenWithUsesEnrolsThatManyInstances: a token made for N uses enrols N instances, each its
// own agent, then is refused as used; EnrollmentsLeft counts down and leaves out expired tokens.
func TestTokenWithUsesEnrolsThatManyInstances(t *testing.T) {
	t.Parallel()
	s, now, cp, _ := tokenFixture(t)
	if err := s.CreateTokenUses(testToken, cp.Id, time.Hour, 2); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTokenUses(testToken+"-soon-expired", cp.Id, time.Minute, 5); err != nil {
		t.Fatal(err)
	}
	*now = now.Add(2 * time.Minute)
	for i, want := range []int{1, 0} {
		if _, err := s.RedeemToken(testToken, Agent{ID: fmt.Sprintf("ag_%d", i)}); err != nil {
			t.Fatalf("use %d of 2: %v", i+1, err)
		}
		left, err := s.EnrollmentsLeft()
		if err != nil || left[cp.Id] != want {
			t.Errorf("after use %d: enrollments left %v (%v), want %d", i+1, left, err, want)
		}
	}
	if _, err := s.RedeemToken(testToken, Agent{ID: "ag_2"}); !errors.Is(err, ErrTokenUsed) {
		t.Errorf("a third use of a two-use token: %v, want ErrTokenUsed", err)
	}
	for _, id := range []string{"ag_0", "ag_1"} {
		if a, err := s.Agent(id); err != nil || a.CheckpointID != cp.Id {
			t.Errorf("instance %s: %+v %v, want an agent of %s", id, a, err, cp.Name)
		}
	}
}

// TestEnrollmentIsNotASighting: a newly enrolled instance has not been seen until it heartbeats
// (which an agent does once subscribed to its runs), so it is not listed online before it could
// receive a run.
func TestEnrollmentIsNotASighting(t *testing.T) {
	t.Parallel()
	s, now, cp, _ := tokenFixture(t)
	if err := s.CreateToken(testToken, cp.Id, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RedeemToken(testToken, Agent{ID: "ag_new"}); err != nil {
		t.Fatal(err)
	}
	if a, err := s.Agent("ag_new"); err != nil || !a.LastSeen.IsZero() {
		t.Fatalf("after enrollment: last seen %v (%v), want never", a.LastSeen, err)
	}
	if a, err := s.TouchAgent("ag_new", "v1", 0, 0); err != nil || !a.LastSeen.Equal(*now) {
		t.Fatalf("after a heartbeat: last seen %v (%v), want %v", a.LastSeen, err, *now)
	}
}
