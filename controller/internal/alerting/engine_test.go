package alerting

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// confirmations records the confirmation runs the engine asks the dispatcher for.
type confirmations struct {
	mu    sync.Mutex
	calls [][]string
}

func (c *confirmations) DispatchConfirmation(_ *pb.Monitor, cps []string) ([]*pb.Run, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, cps)
	return nil, nil
}

// fixture is a real store in a temp dir with an engine hooked into it and a clock for the
// engine's timer that the test moves.
type fixture struct {
	t       *testing.T
	st      *store.Store
	e       *Engine
	confirm *confirmations
	now     time.Time
	mon     *pb.Monitor
}

func newFixture(t *testing.T, checkpoints []string, policy *pb.AlertingPolicy) *fixture {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, st: st, confirm: &confirmations{}, now: time.Now()}
	f.e = New(Options{Store: st, Confirm: f.confirm, Now: func() time.Time { return f.now }, Tick: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { f.e.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	m := &pb.Monitor{Name: "shop", Interval: durationpb.New(time.Minute), Timeout: durationpb.New(10 * time.Second), Checkpoints: checkpoints, Alerting: policy,
		Steps: []*pb.Step{{Name: "get", Request: &pb.HttpRequest{Url: "https://127.0.0.1/"}}}}
	if f.mon, _, _, err = st.PutMonitor(m); err != nil {
		t.Fatal(err)
	}
	return f
}

// report stores an agent's result of a new run of the monitor on checkpoint cp, through the run
// table as an agent's report goes, and tells the engine as the server does.
func (f *fixture) report(cp string, passed bool) {
	f.t.Helper()
	now := time.Now()
	r := &pb.Run{RunId: store.NewID("run_"), MonitorId: f.mon.Id, MonitorName: f.mon.Name, CheckpointId: "id-" + cp, CheckpointName: cp, Attempt: 1,
		State: pb.RunState_RUN_STATE_DISPATCHED, ScheduledAt: timestamppb.New(now), Deadline: timestamppb.New(now.Add(time.Minute))}
	wait, err := f.st.QueueRuns([]*pb.Run{r}, nil)
	if err == nil {
		_, err = wait()
	}
	if err != nil {
		f.t.Fatal(err)
	}
	ag := store.Agent{ID: "agt-" + cp, CheckpointID: r.CheckpointId}
	if _, err := f.st.ClaimRun(r.RunId, 1, ag); err != nil {
		f.t.Fatal(err)
	}
	res := &pb.RunResult{RunId: r.RunId, Attempt: 1, Outcome: pb.Outcome_OUTCOME_PASSED}
	if !passed {
		res.Outcome, res.Message = pb.Outcome_OUTCOME_FAILED, "expected status 200, got 503"
		res.Steps = []*pb.StepResult{{Name: "get", Assertions: []*pb.AssertionResult{{Message: "expected status 200, got 503"}}}}
	}
	stored, _, err := f.st.CompleteRun(res, ag)
	if err != nil {
		f.t.Fatal(err)
	}
	f.e.Observe(stored)
}

// lost stores a result Lookout made itself (agent lost) for a new run on cp.
func (f *fixture) lost(cp string) {
	f.t.Helper()
	now := time.Now()
	r := &pb.Run{RunId: store.NewID("run_"), MonitorId: f.mon.Id, MonitorName: f.mon.Name, CheckpointId: "id-" + cp, CheckpointName: cp, Attempt: 1,
		State: pb.RunState_RUN_STATE_DISPATCHED, ScheduledAt: timestamppb.New(now), Deadline: timestamppb.New(now.Add(time.Minute))}
	res := &pb.RunResult{Outcome: pb.Outcome_OUTCOME_ERROR, ErrorClass: pb.ErrorClass_ERROR_CLASS_AGENT_LOST, Message: "agent lost"}
	wait, err := f.st.QueueRuns([]*pb.Run{r}, []*pb.RunResult{res})
	if err != nil {
		f.t.Fatal(err)
	}
	stored, err := wait()
	if err != nil {
		f.t.Fatal(err)
	}
	f.e.Observe(stored[0])
}

func (f *fixture) state() string {
	f.t.Helper()
	sts, err := f.e.States([]*pb.Monitor{f.mon})
	if err != nil {
		f.t.Fatal(err)
	}
	return StateWord(sts[0])
}

// confirmed waits until the engine has asked for n confirmation requests and returns them.
func (f *fixture) confirmed(n int) [][]string {
	f.t.Helper()
	var calls [][]string
	testutil.Eventually(f.t, fmt.Sprintf("%d confirmation request(s)", n), 10*time.Second, func() bool {
		f.confirm.mu.Lock()
		defer f.confirm.mu.Unlock()
		calls = slices.Clone(f.confirm.calls)
		return len(calls) >= n
	})
	return calls
}

// sent lists "type→channel" for every notification queued, sorted (notifications queued in the
// same millisecond have no order).
func (f *fixture) sent() []string {
	f.t.Helper()
	als, err := f.e.Alerts(AlertFilter{})
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for i := len(als) - 1; i >= 0; i-- {
		for _, n := range als[i].Notifications {
			out = append(out, n.Event.Type+"→"+n.Channel)
		}
	}
	slices.Sort(out)
	return out
}

func (f *fixture) tick() {
	f.t.Helper()
	if err := f.e.Tick(); err != nil {
		f.t.Fatal(err)
	}
}

func level(after time.Duration, afterErrors int32, remind time.Duration, channels ...string) *pb.EscalationLevel {
	l := &pb.EscalationLevel{AfterErrors: afterErrors, Notify: channels}
	if afterErrors == 0 {
		l.After = durationpb.New(after)
	}
	if remind > 0 {
		l.RemindEvery = durationpb.New(remind)
	}
	return l
}

func TestOneCheckpointConfirmsWithItsOwnSecondFailure(t *testing.T) {
	f := newFixture(t, []string{"paris"}, &pb.AlertingPolicy{Escalations: []*pb.EscalationLevel{level(0, 0, 0, "ops")}, NotifyRecovery: true})
	f.report("paris", false)
	if got := f.state(); got != "unconfirmed" {
		t.Fatalf("after a first failure: state %s, want unconfirmed", got)
	}
	if diff := cmp.Diff([][]string{{"paris"}}, f.confirmed(1)); diff != "" {
		t.Errorf("confirmation runs (-want +got):\n%s", diff)
	}
	if got := f.sent(); len(got) != 0 {
		t.Fatalf("an unconfirmed failure notified %v", got)
	}
	f.report("paris", false)
	f.report("paris", true)
	if diff := cmp.Diff([]string{"alert.opened→ops", "alert.resolved→ops"}, f.sent()); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}
	if got := f.state(); got != "ok" {
		t.Errorf("after recovery: state %s, want ok", got)
	}
}

func TestFlappingKeepsOneAlertOpen(t *testing.T) {
	f := newFixture(t, []string{"paris", "tokyo"}, &pb.AlertingPolicy{Escalations: []*pb.EscalationLevel{level(0, 0, 0, "ops")}, NotifyRecovery: true})
	f.report("paris", false)
	if diff := cmp.Diff([][]string{{"tokyo"}}, f.confirmed(1)); diff != "" {
		t.Errorf("confirmation runs (-want +got):\n%s", diff)
	}
	f.report("tokyo", false) // confirms
	for range 3 {
		f.report("paris", true) // tokyo still fails: still down
		f.report("paris", false)
	}
	if got := f.state(); got != "down" {
		t.Fatalf("state %s, want down", got)
	}
	f.report("paris", true)
	f.report("tokyo", true)
	if diff := cmp.Diff([]string{"alert.opened→ops", "alert.resolved→ops"}, f.sent()); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}
	if n := len(f.confirmed(1)); n != 1 {
		t.Errorf("%d confirmation requests, want 1", n)
	}
}

func TestResultsLookoutMadeNeverConfirm(t *testing.T) {
	f := newFixture(t, []string{"paris", "tokyo"}, &pb.AlertingPolicy{Escalations: []*pb.EscalationLevel{level(0, 0, 0, "ops")}})
	f.report("paris", false)
	f.lost("tokyo")
	f.lost("tokyo")
	if got := f.state(); got != "unconfirmed" {
		t.Errorf("state %s, want unconfirmed: an agent-lost run says nothing about the API", got)
	}
	if got := f.sent(); len(got) != 0 {
		t.Errorf("notified %v", got)
	}
}

func TestAfterErrorsEscalationAndReminders(t *testing.T) {
	f := newFixture(t, []string{"paris", "tokyo"}, &pb.AlertingPolicy{Escalations: []*pb.EscalationLevel{
		level(0, 3, 10*time.Second, "ops"),
		level(time.Hour, 0, 0, "lead"),
	}})
	f.report("paris", false)
	f.report("tokyo", false) // opens the alert after 2 failed runs: level 1 waits for 3
	if got := f.sent(); len(got) != 0 {
		t.Fatalf("after 2 failed runs: %v, want nothing yet", got)
	}
	f.report("paris", false)
	f.tick()
	f.now = f.now.Add(11 * time.Second)
	f.tick()
	f.tick() // the reminder is not due again yet
	f.now = f.now.Add(time.Hour)
	f.tick()
	want := []string{"alert.escalated→lead", "alert.opened→ops", "alert.reminder→ops", "alert.reminder→ops"}
	if diff := cmp.Diff(want, f.sent()); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}
}

func TestMuteHoldsNotificationsUntilItEnds(t *testing.T) {
	f := newFixture(t, []string{"paris", "tokyo"}, &pb.AlertingPolicy{Escalations: []*pb.EscalationLevel{level(0, 0, 0, "ops")}, NotifyRecovery: true})
	if _, err := f.e.Mute("shop", f.now.Add(time.Minute), "maintenance"); err != nil {
		t.Fatal(err)
	}
	if got := f.state(); got != "muted" {
		t.Errorf("state %s, want muted", got)
	}
	f.report("paris", false)
	f.report("tokyo", false)
	f.tick()
	if got := f.sent(); len(got) != 0 {
		t.Fatalf("muted monitor notified %v", got)
	}
	f.now = f.now.Add(2 * time.Minute) // the mute ends by itself
	f.tick()
	if diff := cmp.Diff([]string{"alert.opened→ops"}, f.sent()); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}
	if _, err := f.e.Mute("nope", f.now.Add(time.Minute), ""); err == nil {
		t.Error("muting a monitor that does not exist succeeded")
	}
}
