package dispatcher_test

import (
	"bytes"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/lookout-synthetics/lookout/controller/internal/dispatcher"
	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

func plainMonitor(id string, cps ...string) *pb.Monitor {
	return &pb.Monitor{Id: id, Name: id, Version: 1, Timeout: durationpb.New(10 * time.Second), Checkpoints: cps,
		Steps: []*pb.Step{{Name: "get", Request: &pb.HttpRequest{Method: "GET", Url: "http://127.0.0.1:9/"}}}}
}

// deadBus refuses every publish, as a closed NATS connection does.
type deadBus struct{}

func (deadBus) Publish(string, []byte) error { return errors.New("nats: connection closed") }

// TestDispatchScheduledRound: a scheduler round of several monitors goes out together: every run
// is recorded and published once, a policy refusal ends its own run only, and a checkpoint that
// no longer exists is logged and skipped while the monitor's other runs go out.
func TestDispatchScheduledRound(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.checkpoint(t, "public-1", pb.CheckpointKind_CHECKPOINT_KIND_PUBLIC)
	f.checkpoint(t, "public-2", pb.CheckpointKind_CHECKPOINT_KIND_PUBLIC)
	f.checkpoint(t, "site-1", pb.CheckpointKind_CHECKPOINT_KIND_PRIVATE)
	due := []*pb.Monitor{
		plainMonitor("mon_a", "public-1", "public-2"),
		plainMonitor("mon_b", "public-2", "gone", "public-1"),
		platformMonitor("site-1", "public-1"),
	}
	runs := f.d.DispatchScheduled(due)
	if len(runs) != 6 {
		t.Fatalf("recorded %d runs, want 6 (2 + 2 of 3, the third checkpoint is gone + 2)", len(runs))
	}
	if !strings.Contains(f.logs.String(), `checkpoint=gone`) {
		t.Errorf("the missing checkpoint is not logged:\n%s", f.logs)
	}

	var refused, published []string
	for _, r := range runs {
		stored, err := f.store.Run(r.RunId)
		if err != nil {
			t.Fatalf("run %s of %s on %s is not in the run table: %v", r.RunId, r.MonitorName, r.CheckpointName, err)
		}
		if r.Manual {
			t.Errorf("scheduled run %s is marked manual", r.RunId)
		}
		if stored.State == pb.RunState_RUN_STATE_DONE {
			checkPolicyResult(t, "refused scheduled run", stored.Result, "site-1")
			refused = append(refused, r.RunId)
		} else {
			published = append(published, r.RunId)
		}
	}
	if len(refused) != 1 {
		t.Errorf("%d runs were refused, want 1 (the platform monitor on private site-1)", len(refused))
	}
	var got []string
	for range len(published) {
		msg, err := f.sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("after %d of %d run requests: %v", len(got), len(published), err)
		}
		req := &pb.RunRequest{}
		if err := proto.Unmarshal(msg.Data, req); err != nil {
			t.Fatal(err)
		}
		got = append(got, req.RunId)
	}
	if msg, err := f.sub.NextMsg(200 * time.Millisecond); err == nil {
		t.Errorf("an extra run request was published on %s", msg.Subject)
	}
	slices.Sort(got)
	slices.Sort(published)
	if !slices.Equal(got, published) {
		t.Errorf("published %v, want each recorded, unrefused run once: %v", got, published)
	}
}

// TestDispatchScheduledWhenPublishingFails: runs that cannot be published end at once as
// "checkpoint unavailable", with the reason, and are notified; none is left open.
func TestDispatchScheduledWhenPublishingFails(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.checkpoint(t, "public-1", pb.CheckpointKind_CHECKPOINT_KIND_PUBLIC)
	var logs bytes.Buffer
	var notified []*pb.RunResult
	d := dispatcher.New(dispatcher.Options{Store: f.store, Vault: f.vault, Bus: deadBus{}, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Notify: func(r *pb.RunResult) { notified = append(notified, r) }})
	runs := d.DispatchScheduled([]*pb.Monitor{plainMonitor("mon_a", "public-1"), plainMonitor("mon_b", "public-1")})
	if len(runs) != 2 || len(notified) != 2 {
		t.Fatalf("%d runs recorded, %d results notified; want 2 and 2", len(runs), len(notified))
	}
	for _, r := range runs {
		stored, err := f.store.Run(r.RunId)
		if err != nil {
			t.Fatal(err)
		}
		res := stored.GetResult()
		if stored.State != pb.RunState_RUN_STATE_DONE || res.GetErrorClass() != pb.ErrorClass_ERROR_CLASS_CHECKPOINT_UNAVAILABLE ||
			!strings.Contains(res.GetMessage(), "could not publish the run request: nats: connection closed") {
			t.Errorf("run %s: state %v, result %v", r.RunId, stored.State, res)
		}
	}
	if n := f.store.OpenRunCount(); n != 0 {
		t.Errorf("%d runs left open", n)
	}
}

// TestDispatchFailures: a manual run naming a checkpoint that does not exist is refused with the
// names in the error and records nothing; a round on a closed store publishes nothing and says
// why in the log (the checkpoint lookup fails first; store.TestQueueRunsAfterCloseQueuesNothing
// covers a record that cannot be queued).
func TestDispatchFailures(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.checkpoint(t, "public-1", pb.CheckpointKind_CHECKPOINT_KIND_PUBLIC)
	m := plainMonitor("mon_a", "public-1", "gone")
	runs, err := f.d.Dispatch(m, nil, true)
	if err == nil || !strings.Contains(err.Error(), `monitor "mon_a" names checkpoint "gone"`) || !errors.Is(err, store.ErrNotFound) || len(runs) != 0 {
		t.Errorf("manual run with a missing checkpoint: runs %v, err %v", runs, err)
	}
	if n := f.store.OpenRunCount(); n != 0 {
		t.Errorf("%d runs recorded for a refused manual run", n)
	}

	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	if runs := f.d.DispatchScheduled([]*pb.Monitor{plainMonitor("mon_b", "public-1")}); len(runs) != 0 {
		t.Errorf("a round with a closed store returned runs %v", runs)
	}
	if l := f.logs.String(); !strings.Contains(l, "could not start a scheduled run") || !strings.Contains(l, "database not open") {
		t.Errorf("the failed round is not logged:\n%s", f.logs)
	}
	if msg, err := f.sub.NextMsg(200 * time.Millisecond); err == nil {
		t.Errorf("a run was published on %s though nothing was recorded", msg.Subject)
	}
}

// countingVault counts item reads on the real vault.
type countingVault struct {
	dispatcher.ItemResolver
	mu    sync.Mutex
	reads map[string]int
}

func (v *countingVault) Get(name string) (*pb.VaultItem, error) {
	v.mu.Lock()
	v.reads[name]++
	v.mu.Unlock()
	return v.ItemResolver.Get(name)
}

// TestDispatchScheduledReadsEachItemOnce: a round of two monitors using the same vault certificate
// on two checkpoints each makes four runs that all reference it, and reads it once.
func TestDispatchScheduledReadsEachItemOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.checkpoint(t, "public-1", pb.CheckpointKind_CHECKPOINT_KIND_PUBLIC)
	f.checkpoint(t, "public-2", pb.CheckpointKind_CHECKPOINT_KIND_PUBLIC)
	v := &countingVault{ItemResolver: f.vault, reads: map[string]int{}}
	d := dispatcher.New(dispatcher.Options{Store: f.store, Vault: v, Bus: deadBus{}, Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))})
	a, b := platformMonitor("public-1", "public-2"), platformMonitor("public-1", "public-2")
	b.Id, b.Name = "mon_platform_2", "platform-mtls-2"
	runs := d.DispatchScheduled([]*pb.Monitor{a, b})
	if len(runs) != 4 {
		t.Fatalf("%d runs, want 4", len(runs))
	}
	for _, r := range runs {
		if !strings.Contains(refNames(r.Secrets), "partner-cert") {
			t.Errorf("run %s does not reference partner-cert: %s", r.RunId, refNames(r.Secrets))
		}
	}
	if n := v.reads["partner-cert"]; n != 1 {
		t.Errorf("partner-cert was read %d times for one round, want once", n)
	}
}
