package alerting

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// claimed records a run of the monitor on cp scheduled at sched and claims it, as an agent does
// before it runs it.
func (f *fixture) claimed(cp string, sched time.Time) *pb.Run {
	f.t.Helper()
	r := &pb.Run{RunId: store.NewID("run_"), MonitorId: f.mon.Id, MonitorName: f.mon.Name, CheckpointId: "id-" + cp, CheckpointName: cp, Attempt: 1,
		State: pb.RunState_RUN_STATE_DISPATCHED, ScheduledAt: timestamppb.New(sched), Deadline: timestamppb.New(sched.Add(time.Hour))}
	wait, err := f.st.QueueRuns([]*pb.Run{r}, nil)
	if err == nil {
		_, err = wait()
	}
	if err == nil {
		_, err = f.st.ClaimRun(r.RunId, 1, store.Agent{ID: "agt-" + cp, CheckpointID: r.CheckpointId})
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// complete reports the agent's result of r, as ReportResult does.
func (f *fixture) complete(r *pb.Run, passed bool) {
	f.t.Helper()
	res := &pb.RunResult{RunId: r.RunId, Attempt: 1, Outcome: pb.Outcome_OUTCOME_PASSED}
	if !passed {
		res.Outcome, res.Message = pb.Outcome_OUTCOME_FAILED, "expected status 200, got 503"
	}
	stored, _, err := f.st.CompleteRun(res, store.Agent{ID: "agt-" + r.CheckpointName, CheckpointID: r.CheckpointId})
	if err != nil {
		f.t.Fatal(err)
	}
	f.e.Observe(stored)
}

func (f *fixture) failures(cp string, around time.Time) int64 {
	f.t.Helper()
	rs, err := f.st.Rollups(f.mon.Name, cp, around.Add(-2*time.Hour), around.Add(2*time.Hour))
	if err != nil {
		f.t.Fatal(err)
	}
	var n int64
	for _, r := range rs {
		n += r.Failures
	}
	return n
}

// A passing result of a run scheduled before the two failures that confirmed the alert, reported
// late by an agent that spooled it, does not resolve the alert; it still counts in the rollups.
func TestLatePassingResultDoesNotResolveAnAlert(t *testing.T) {
	f := newFixture(t, []string{"paris"}, nil)
	t0 := time.Now()
	early, r1, r2 := f.claimed("paris", t0), f.claimed("paris", t0.Add(time.Minute)), f.claimed("paris", t0.Add(2*time.Minute))
	f.complete(r1, false)
	f.complete(r2, false)
	if got := f.state(); got != "down" {
		t.Fatalf("state after two failures = %s, want down", got)
	}
	f.complete(early, true)
	if got := f.state(); got != "down" {
		t.Errorf("state after a late passing result = %s, want down: it predates the failures", got)
	}
}

// A failing result reported late, after later runs passed (which the engine decides without a
// write), leaves the monitor ok; it still counts as a failure in the rollups.
func TestLateFailingResultDoesNotFlipAnOKMonitor(t *testing.T) {
	f := newFixture(t, []string{"paris"}, nil)
	t0 := time.Now()
	early, r1 := f.claimed("paris", t0), f.claimed("paris", t0.Add(time.Minute))
	f.complete(r1, true)
	f.complete(early, false)
	if got := f.state(); got != "ok" {
		t.Errorf("state after a late failing result = %s, want ok", got)
	}
	if n := f.failures("paris", t0); n != 1 {
		t.Errorf("rollups count %d failures, want 1: the late failure still happened", n)
	}
	if n := len(f.confirm.calls); n != 0 {
		t.Errorf("%d confirmation runs asked for, want none", n)
	}
}
