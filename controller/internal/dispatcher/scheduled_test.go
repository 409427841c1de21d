package dispatcher_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// TestDispatchScheduledRound: a scheduler round of several monitors goes out together: every run
// is recorded and published once, a policy refusal ends its own run only, and a checkpoint that
// no longer exists is logged and skipped while the monitor's other runs go out.
func TestDispatchScheduledRound(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.checkpoint(t, "public-1", pb.CheckpointKind_CHECKPOINT_KIND_PUBLIC)
	f.checkpoint(t, "public-2", pb.CheckpointKind_CHECKPOINT_KIND_PUBLIC)
	f.checkpoint(t, "site-1", pb.CheckpointKind_CHECKPOINT_KIND_PRIVATE)
	plain := func(id string, cps ...string) *pb.Monitor {
		return &pb.Monitor{Id: id, Name: id, Version: 1, Timeout: durationpb.New(10 * time.Second), Checkpoints: cps,
			Steps: []*pb.Step{{Name: "get", Request: &pb.HttpRequest{Method: "GET", Url: "http://127.0.0.1:9/"}}}}
	}
	due := []*pb.Monitor{
		plain("mon_a", "public-1", "public-2"),
		plain("mon_b", "public-2", "gone", "public-1"),
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
