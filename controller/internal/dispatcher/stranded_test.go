package dispatcher_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// TestRunOfACheckpointWithNoLiveInstanceLeftEndsBeforeItsDeadline is DESIGN §6 (issue 19): runs out
// when a checkpoint's last live instance dies end at the first sweep after the online window, not
// at their deadline, saying no instance is live and when one was last seen; the claimed one as
// "agent lost" naming its instance, whose late result still replaces it. While the instance is live,
// nothing ends.
func TestRunOfACheckpointWithNoLiveInstanceLeftEndsBeforeItsDeadline(t *testing.T) {
	t.Parallel()
	r := newSweepRig(t)
	cp, err := r.st.EnsureCheckpoint("lone-site", pb.CheckpointKind_CHECKPOINT_KIND_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	only := r.instance(t, cp, "ag_only")
	m, _, _, err := r.st.PutMonitor(&pb.Monitor{Name: "long", Timeout: durationpb.New(5 * time.Minute), Checkpoints: []string{cp.Name},
		Steps: []*pb.Step{{Name: "get", Request: &pb.HttpRequest{Method: "GET", Url: "https://127.0.0.1:8443/"}}}})
	if err != nil {
		t.Fatal(err)
	}
	var runs []*pb.Run
	for range 2 {
		got, err := r.d.Dispatch(m, nil, true)
		if err != nil || len(got) != 1 || got[0].Result != nil {
			t.Fatalf("dispatch: %v %v", got, err)
		}
		runs = append(runs, got[0])
	}
	claimed, unclaimed := runs[0], runs[1]
	if _, err := r.st.ClaimRun(claimed.RunId, 1, only); err != nil {
		t.Fatal(err)
	}

	r.advance(rigWindow / 2)
	if err := r.d.SweepExpired(); err != nil {
		t.Fatal(err)
	}
	for _, run := range runs {
		if got, _ := r.st.Run(run.RunId); got.GetState() == pb.RunState_RUN_STATE_DONE {
			t.Fatalf("run %s ended while its checkpoint's instance was live: %v", run.RunId, got.Result)
		}
	}

	r.advance(rigWindow)
	if err := r.d.SweepExpired(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		run   *pb.Run
		class pb.ErrorClass
		words []string
	}{
		{claimed, pb.ErrorClass_ERROR_CLASS_AGENT_LOST, []string{"agent lost: agent ag_only", `no live instance of checkpoint "lone-site"`, "last seen"}},
		{unclaimed, pb.ErrorClass_ERROR_CLASS_CHECKPOINT_UNAVAILABLE, []string{`checkpoint unavailable: no live instance of checkpoint "lone-site"`, "last seen"}},
	} {
		got, err := r.st.Run(tc.run.RunId)
		if err != nil || got.State != pb.RunState_RUN_STATE_DONE {
			t.Fatalf("run %s one online window after its instance's last heartbeat: %v %v, want it ended", tc.run.RunId, got, err)
		}
		res := got.Result
		if res.ErrorClass != tc.class || !res.FinishedAt.AsTime().Before(got.Deadline.AsTime()) {
			t.Errorf("run %s: %v ended at %v (deadline %v), want %v before the deadline", tc.run.RunId, res.ErrorClass, res.FinishedAt.AsTime(), got.Deadline.AsTime(), tc.class)
		}
		for _, w := range tc.words {
			if !strings.Contains(res.Message, w) {
				t.Errorf("run %s: message %q does not say %q", tc.run.RunId, res.Message, w)
			}
		}
	}
	if n := len(r.ended); n != 2 {
		t.Errorf("%d results notified, want the 2 ended runs", n)
	}
	late := &pb.RunResult{RunId: claimed.RunId, Attempt: 1, Outcome: pb.Outcome_OUTCOME_PASSED}
	if stored, _, err := r.st.CompleteRun(late, only); err != nil || stored.Outcome != pb.Outcome_OUTCOME_PASSED {
		t.Errorf("the claiming instance's late result: %v %v, want it to replace the agent-lost result", stored, err)
	}
}
