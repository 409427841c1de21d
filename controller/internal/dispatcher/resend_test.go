package dispatcher_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/test"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/lookout-synthetics/lookout/controller/internal/dispatcher"
	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// sweepRig is a dispatcher over a real store and NATS server with a clock the test moves, the
// online window of a controller, and a subscriber that sees every run request.
type sweepRig struct {
	d     *dispatcher.Dispatcher
	st    *store.Store
	sub   *nats.Subscription
	logs  *bytes.Buffer
	mu    sync.Mutex
	now   time.Time
	ended []*pb.RunResult
}

const rigWindow = 30 * time.Second

func newSweepRig(t *testing.T) *sweepRig {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	opts := natsserver.DefaultTestOptions
	opts.Port = -1
	ns := natsserver.RunServer(&opts)
	t.Cleanup(ns.Shutdown)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	sub, err := nc.SubscribeSync("lookout.run.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	r := &sweepRig{st: st, sub: sub, logs: &bytes.Buffer{}, now: time.Now()} // the store's own clock judges claims
	r.d = dispatcher.New(dispatcher.Options{Store: st, Bus: nc, Logger: slog.New(slog.NewTextHandler(r.logs, nil)), OnlineWindow: rigWindow,
		Now:    func() time.Time { r.mu.Lock(); defer r.mu.Unlock(); return r.now },
		Notify: func(res *pb.RunResult) { r.mu.Lock(); r.ended = append(r.ended, res); r.mu.Unlock() }})
	return r
}

func (r *sweepRig) advance(d time.Duration) { r.mu.Lock(); r.now = r.now.Add(d); r.mu.Unlock() }

// instance enrols an agent instance of cp the way Enroll does, and records its first heartbeat.
func (r *sweepRig) instance(t *testing.T, cp *pb.Checkpoint, id string) store.Agent {
	t.Helper()
	token := strings.Repeat("t", 32) + id
	if err := r.st.CreateToken(token, cp.Id, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := r.st.RedeemToken(token, store.Agent{ID: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.st.TouchAgent(id, "test", 0, 0); err != nil { // its first heartbeat
		t.Fatal(err)
	}
	return store.Agent{ID: id, CheckpointID: cp.Id}
}

func (r *sweepRig) monitor(t *testing.T, name, url string, checkpoints ...string) *pb.Monitor {
	t.Helper()
	m, _, _, err := r.st.PutMonitor(&pb.Monitor{Name: name, Timeout: durationpb.New(10 * time.Second), Checkpoints: checkpoints,
		Steps: []*pb.Step{{Name: "get", Request: &pb.HttpRequest{Method: "GET", Url: url}}}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// requests drains the run requests published so far.
func (r *sweepRig) requests(t *testing.T) []*pb.RunRequest {
	t.Helper()
	var out []*pb.RunRequest
	for {
		msg, err := r.sub.NextMsg(200 * time.Millisecond)
		if err != nil {
			return out
		}
		req := &pb.RunRequest{}
		if err := proto.Unmarshal(msg.Data, req); err != nil {
			t.Fatal(err)
		}
		out = append(out, req)
	}
}

func (r *sweepRig) sweepAfterDeadline(t *testing.T) {
	t.Helper()
	r.advance(21 * time.Second) // the monitor's 10s timeout + the default 10s grace
	if err := r.d.SweepExpired(); err != nil {
		t.Fatal(err)
	}
}

// TestSilentInstancesRunIsHandedOverOnce is DESIGN §6: a run claimed by an instance that then went
// silent goes, at its deadline, to another live instance of the checkpoint as a new attempt; the
// silent instance's late result is refused; when the second instance goes silent too, the run ends
// as "agent lost" instead of going round again.
func TestSilentInstancesRunIsHandedOverOnce(t *testing.T) {
	t.Parallel()
	r := newSweepRig(t)
	cp, err := r.st.EnsureCheckpoint("site-two", pb.CheckpointKind_CHECKPOINT_KIND_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	silent, other := r.instance(t, cp, "ag_silent"), r.instance(t, cp, "ag_other")
	runs, err := r.d.Dispatch(r.monitor(t, "handover", "https://127.0.0.1:8443/", cp.Name), nil, true)
	if err != nil || len(runs) != 1 || runs[0].Result != nil {
		t.Fatalf("dispatch: %v %v", runs, err)
	}
	run := runs[0]
	if _, err := r.st.ClaimRun(run.RunId, 1, silent); err != nil {
		t.Fatal(err)
	}
	r.requests(t)

	r.sweepAfterDeadline(t)
	got := r.requests(t)
	if len(got) != 1 || got[0].RunId != run.RunId || got[0].Attempt != 2 {
		t.Fatalf("after the silent instance's deadline: %v, want run %s sent again as attempt 2", got, run.RunId)
	}
	stored, err := r.st.Run(run.RunId)
	if err != nil || stored.State != pb.RunState_RUN_STATE_DISPATCHED || stored.AgentId != "" || stored.HandedOverFrom != silent.ID {
		t.Fatalf("handed-over run: %v %v, want dispatched, unclaimed, handed over from %s", stored, err, silent.ID)
	}
	late := &pb.RunResult{RunId: run.RunId, Attempt: 1, Outcome: pb.Outcome_OUTCOME_PASSED}
	if _, _, err := r.st.CompleteRun(late, silent); !errors.Is(err, store.ErrNotYours) {
		t.Errorf("the silent instance's late result for attempt 1: %v, want ErrNotYours", err)
	}
	if _, err := r.st.ClaimRun(run.RunId, 2, other); err != nil {
		t.Fatalf("the other instance claiming attempt 2: %v", err)
	}

	r.sweepAfterDeadline(t)
	if got := r.requests(t); len(got) != 0 {
		t.Fatalf("a run was handed over a second time: %v", got)
	}
	stored, err = r.st.Run(run.RunId)
	if err != nil || stored.GetResult().GetErrorClass() != pb.ErrorClass_ERROR_CLASS_AGENT_LOST || stored.Result.Attempt != 2 {
		t.Fatalf("run after its second deadline: %v %v, want agent lost on attempt 2", stored.GetResult(), err)
	}
}

// TestNoLiveInstanceEndsTheRunAtOnce: a run for a checkpoint whose instances were last heard from
// more than one online window ago ends at dispatch, saying when one was last seen; one for a
// checkpoint that never had an instance says how to enrol one. Neither is published.
func TestNoLiveInstanceEndsTheRunAtOnce(t *testing.T) {
	t.Parallel()
	r := newSweepRig(t)
	gone, err := r.st.EnsureCheckpoint("gone-site", pb.CheckpointKind_CHECKPOINT_KIND_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	r.instance(t, gone, "ag_gone")
	empty, err := r.st.EnsureCheckpoint("empty-site", pb.CheckpointKind_CHECKPOINT_KIND_PUBLIC)
	if err != nil {
		t.Fatal(err)
	}
	m := r.monitor(t, "nobody-home", "https://127.0.0.1:8443/", gone.Name, empty.Name)
	r.advance(rigWindow + 15*time.Second)
	runs, err := r.d.Dispatch(m, nil, true)
	if err != nil || len(runs) != 2 {
		t.Fatalf("dispatch: %v %v", runs, err)
	}
	want := map[string][]string{
		gone.Name:  {`no live instance of checkpoint "gone-site"`, "last seen 45s ago"},
		empty.Name: {`no live instance of checkpoint "empty-site"`, "checkpoint token --name empty-site"},
	}
	for _, run := range runs {
		res := run.GetResult()
		if res.GetErrorClass() != pb.ErrorClass_ERROR_CLASS_CHECKPOINT_UNAVAILABLE {
			t.Errorf("run on %s: %v, want it ended as checkpoint unavailable", run.CheckpointName, res)
		}
		for _, w := range want[run.CheckpointName] {
			if !strings.Contains(res.GetMessage(), w) {
				t.Errorf("run on %s: message %q does not say %q", run.CheckpointName, res.GetMessage(), w)
			}
		}
	}
	if got := r.requests(t); len(got) != 0 {
		t.Errorf("runs for checkpoints with no live instance were published: %v", got)
	}
}

// TestResendChecksTheMonitorAgain is issue 18 item 1: a run sent again is the monitor version it was
// dispatched with, found by id. A monitor changed or deleted since ends the run with a reason; a
// monitor named like the run's monitor id never stands in for it.
func TestResendChecksTheMonitorAgain(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		change func(t *testing.T, r *sweepRig, m *pb.Monitor)
		want   string // in the run's result; "" = sent again
	}{
		"unchanged": {change: func(*testing.T, *sweepRig, *pb.Monitor) {}},
		"changed": {
			change: func(t *testing.T, r *sweepRig, m *pb.Monitor) {
				r.monitor(t, m.Name, "https://127.0.0.1:8443/v2", "site-r")
			},
			want: `monitor "resent" changed after this run was dispatched (version 1, now 2)`,
		},
		"no longer names the checkpoint": {
			change: func(t *testing.T, r *sweepRig, m *pb.Monitor) {
				r.monitor(t, m.Name, "https://127.0.0.1:8443/", "elsewhere")
			},
			want: "changed after this run was dispatched",
		},
		"deleted": {
			change: func(t *testing.T, r *sweepRig, m *pb.Monitor) {
				if err := r.st.DeleteMonitor(m.Id); err != nil {
					t.Fatal(err)
				}
			},
			want: `monitor "resent" was deleted after this run was dispatched`,
		},
		"a monitor named like its id": {
			change: func(t *testing.T, r *sweepRig, m *pb.Monitor) {
				r.monitor(t, m.Id, "https://127.0.0.1:8443/impostor", "site-r")
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := newSweepRig(t)
			cp, err := r.st.EnsureCheckpoint("site-r", pb.CheckpointKind_CHECKPOINT_KIND_PRIVATE)
			if err != nil {
				t.Fatal(err)
			}
			r.instance(t, cp, "ag_r")
			m := r.monitor(t, "resent", "https://127.0.0.1:8443/", cp.Name)
			runs, err := r.d.Dispatch(m, nil, true)
			if err != nil || len(runs) != 1 || runs[0].Result != nil {
				t.Fatalf("dispatch: %v %v", runs, err)
			}
			r.requests(t)
			tc.change(t, r, m)

			r.sweepAfterDeadline(t)
			got := r.requests(t)
			stored, err := r.st.Run(runs[0].RunId)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if len(got) != 1 || got[0].Attempt != 2 || got[0].GetMonitor().GetId() != m.Id || !proto.Equal(got[0].GetMonitor(), m) {
					t.Fatalf("sent again: %v, want attempt 2 of monitor %s as dispatched", got, m.Id)
				}
				return
			}
			if len(got) != 0 {
				t.Errorf("the run was sent again: %v", got)
			}
			if res := stored.GetResult(); res.GetErrorClass() != pb.ErrorClass_ERROR_CLASS_POLICY || !strings.Contains(res.GetMessage(), tc.want) {
				t.Errorf("run's result: %v, want a policy error saying %q", res, tc.want)
			}
		})
	}
}
