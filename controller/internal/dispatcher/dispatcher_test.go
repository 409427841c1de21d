package dispatcher_test

import (
	"bytes"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/test"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/lookout-synthetics/lookout/controller/internal/dispatcher"
	"github.com/lookout-synthetics/lookout/controller/internal/store"
	"github.com/lookout-synthetics/lookout/controller/internal/vault"
	"github.com/lookout-synthetics/lookout/internal/natsbus"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixture is a dispatcher over a real bbolt store and vault, publishing on a real NATS server, with
// a subscriber that sees every run request and a record of what the dispatcher notified and logged.
type fixture struct {
	d        *dispatcher.Dispatcher
	store    *store.Store
	sub      *nats.Subscription
	logs     *bytes.Buffer
	vaultKey []byte // PKCS#8 of the vault certificate "partner-cert"
	vault    *vault.Vault

	mu       sync.Mutex
	notified []*pb.RunResult
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key, err := vault.LoadMasterKey(filepath.Join(dir, "master.key"), true)
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(vault.Options{DB: st.DB(), MasterKey: key})
	if err != nil {
		t.Fatal(err)
	}
	ca := testutil.NewCA(t, "partner CA")
	leaf := ca.Issue(t, "partner-client", false)
	if _, _, err := v.AddCertificate("partner-cert", "", leaf.PKCS12(t, ca, "pw-partner"), "pw-partner"); err != nil {
		t.Fatal(err)
	}

	opts := natsserver.DefaultTestOptions
	opts.Port = -1
	ns := natsserver.RunServer(&opts)
	t.Cleanup(ns.Shutdown)
	pubConn, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pubConn.Close)
	subConn, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(subConn.Close)
	sub, err := subConn.SubscribeSync("lookout.run.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := subConn.Flush(); err != nil {
		t.Fatal(err)
	}

	f := &fixture{store: st, sub: sub, logs: &bytes.Buffer{}, vaultKey: leaf.PKCS8(), vault: v}
	f.d = dispatcher.New(dispatcher.Options{Store: st, Vault: v, Bus: pubConn, Logger: slog.New(slog.NewTextHandler(f.logs, nil)),
		Notify: func(r *pb.RunResult) { f.mu.Lock(); f.notified = append(f.notified, r); f.mu.Unlock() }})
	return f
}

func (f *fixture) checkpoint(t *testing.T, name string, kind pb.CheckpointKind) *pb.Checkpoint {
	t.Helper()
	cp, err := f.store.EnsureCheckpoint(name, kind)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// platformMonitor asks for a vault certificate in step 1 and the platform certificate in step 2:
// the refusal must drop what step 1 would have released too.
func platformMonitor(checkpoints ...string) *pb.Monitor {
	step := func(name string, cc *pb.ClientCertificate) *pb.Step {
		return &pb.Step{Name: name, Request: &pb.HttpRequest{Method: "GET", Url: "https://127.0.0.1:8443/" + name, ClientCertificate: cc}}
	}
	return &pb.Monitor{Id: "mon_platform", Name: "platform-mtls", Version: 1, Timeout: durationpb.New(10 * time.Second), Checkpoints: checkpoints,
		Steps: []*pb.Step{
			step("vault", &pb.ClientCertificate{Source: pb.CertificateSource_CERTIFICATE_SOURCE_VAULT, Item: "partner-cert"}),
			step("platform", &pb.ClientCertificate{Source: pb.CertificateSource_CERTIFICATE_SOURCE_PLATFORM}),
		}}
}

// TestDispatcherRefusesPlatformOnANonPublicCheckpoint is DESIGN §5 (2). Monitor apply refuses such a
// monitor and a checkpoint's kind never changes, so the public surface cannot reach this check;
// here the monitor is handed to the dispatcher directly. The run ends at once with a policy error,
// references no secret, is never published, and cannot be claimed; a public checkpoint's run of the
// same monitor is published (the control that shows the subscriber would have seen it).
func TestDispatcherRefusesPlatformOnANonPublicCheckpoint(t *testing.T) {
	t.Parallel()
	for name, kind := range map[string]pb.CheckpointKind{
		"private":         pb.CheckpointKind_CHECKPOINT_KIND_PRIVATE,
		"kind not stated": pb.CheckpointKind_CHECKPOINT_KIND_UNSPECIFIED,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			cp := f.checkpoint(t, "site-1", kind)
			pub := f.checkpoint(t, "public-1", pb.CheckpointKind_CHECKPOINT_KIND_PUBLIC)

			runs, err := f.d.Dispatch(platformMonitor("site-1", "public-1"), []string{"site-1"}, true)
			if err != nil || len(runs) != 1 {
				t.Fatalf("Dispatch = %d runs, %v; want one run ended by policy", len(runs), err)
			}
			run := runs[0]
			checkPolicyResult(t, "returned run", run.GetResult(), cp.Name)

			stored, err := f.store.Run(run.RunId)
			if err != nil {
				t.Fatal(err)
			}
			if stored.State != pb.RunState_RUN_STATE_DONE || len(stored.Secrets) != 0 {
				t.Errorf("stored run: state %v with %d secret reference(s), want done with none", stored.State, len(stored.Secrets))
			}
			checkPolicyResult(t, "stored result", stored.GetResult(), cp.Name)
			f.mu.Lock()
			if len(f.notified) != 1 {
				t.Errorf("collectors were told %d result(s), want the policy refusal", len(f.notified))
			}
			f.mu.Unlock()
			if _, err := f.store.ClaimRun(run.RunId, 1, store.Agent{ID: "ag_site", CheckpointID: cp.Id}); !errors.Is(err, store.ErrRunClosed) {
				t.Errorf("an agent of %s claiming the refused run: %v, want ErrRunClosed (no secrets can be fetched for it)", cp.Name, err)
			}
			if !strings.Contains(f.logs.String(), "asks for the platform certificate") {
				t.Errorf("the controller's log does not say why the run ended:\n%s", f.logs.String())
			}

			// Control: the public checkpoint's run goes out, and is the first message the subscriber
			// sees; NATS keeps one connection's order, so a publish of the refused run would come first.
			if _, err := f.d.Dispatch(platformMonitor("site-1", "public-1"), []string{"public-1"}, true); err != nil {
				t.Fatal(err)
			}
			msg, err := f.sub.NextMsg(10 * time.Second)
			if err != nil {
				t.Fatalf("no run request published for the public checkpoint: %v", err)
			}
			if want, _ := natsbus.RunSubject(pub.Id); msg.Subject != want {
				t.Fatalf("first run request went to %s, want %s (the refused run was published)", msg.Subject, want)
			}
			req := &pb.RunRequest{}
			if err := proto.Unmarshal(msg.Data, req); err != nil {
				t.Fatal(err)
			}
			if got := refNames(req.Secrets); got != "partner-cert,platform" {
				t.Errorf("public run references %q, want partner-cert,platform", got)
			}
			if bytes.Contains(msg.Data, f.vaultKey) {
				t.Error("the run request on NATS carries the vault certificate's key")
			}
		})
	}
}

func checkPolicyResult(t *testing.T, what string, res *pb.RunResult, cpName string) {
	t.Helper()
	if res.GetOutcome() != pb.Outcome_OUTCOME_ERROR || res.GetErrorClass() != pb.ErrorClass_ERROR_CLASS_POLICY {
		t.Errorf("%s: outcome %v class %v, want an error of class policy", what, res.GetOutcome(), res.GetErrorClass())
	}
	for _, want := range []string{"policy", `step 2 ("platform")`, "platform certificate", cpName} {
		if !strings.Contains(res.GetMessage(), want) {
			t.Errorf("%s: message %q does not say %q", what, res.GetMessage(), want)
		}
	}
}

func refNames(refs []*pb.SecretRef) string {
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = r.Name
	}
	return strings.Join(names, ",")
}

// TestUnclaimedRunIsRedispatchedOnceThenEnds: a run no agent claimed by its deadline goes out again
// (same run id, attempt 2, a new deadline, a new request on the bus); when nobody claims that one
// either it ends as "checkpoint unavailable". A run an agent claimed is never re-dispatched.
func TestUnclaimedRunIsRedispatchedOnceThenEnds(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir)
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
	var mu sync.Mutex
	now := time.Now() // the store's own clock judges claims, so the test clock starts there
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	var notified []*pb.RunResult
	d := dispatcher.New(dispatcher.Options{Store: st, Bus: nc, Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), Now: clock,
		Notify: func(r *pb.RunResult) { mu.Lock(); notified = append(notified, r); mu.Unlock() }})
	cp, err := st.EnsureCheckpoint("public-r", pb.CheckpointKind_CHECKPOINT_KIND_PUBLIC)
	if err != nil {
		t.Fatal(err)
	}
	m, _, _, err := st.PutMonitor(&pb.Monitor{Name: "retry", Timeout: durationpb.New(10 * time.Second), Checkpoints: []string{cp.Name},
		Steps: []*pb.Step{{Name: "get", Request: &pb.HttpRequest{Method: "GET", Url: "https://127.0.0.1:8443/"}}}})
	if err != nil {
		t.Fatal(err)
	}
	runs, err := d.Dispatch(m, nil, true)
	if err != nil || len(runs) != 1 {
		t.Fatalf("dispatch: %v %v", runs, err)
	}
	claimedRuns, err := d.Dispatch(m, nil, true)
	if err != nil || len(claimedRuns) != 1 {
		t.Fatalf("dispatch: %v %v", claimedRuns, err)
	}
	agent := store.Agent{ID: "agt-1", CheckpointID: cp.Id}
	if _, err := st.ClaimRun(claimedRuns[0].RunId, 1, agent); err != nil {
		t.Fatal(err)
	}
	requests := func() []*pb.RunRequest {
		var out []*pb.RunRequest
		for {
			msg, err := sub.NextMsg(200 * time.Millisecond)
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
	if got := requests(); len(got) != 2 {
		t.Fatalf("first dispatch published %d requests, want 2", len(got))
	}

	advance(time.Minute)
	if err := d.SweepExpired(); err != nil {
		t.Fatal(err)
	}
	got := requests()
	if len(got) != 1 || got[0].RunId != runs[0].RunId || got[0].Attempt != 2 || !got[0].Deadline.AsTime().After(clock()) {
		t.Fatalf("after the first deadline: %v, want one request for run %s attempt 2 with a later deadline", got, runs[0].RunId)
	}
	r, err := st.Run(runs[0].RunId)
	if err != nil || r.State != pb.RunState_RUN_STATE_DISPATCHED || r.Attempt != 2 || r.Result != nil {
		t.Fatalf("re-dispatched run: %v %v", r, err)
	}
	lost, err := st.Run(claimedRuns[0].RunId)
	if err != nil || lost.GetResult().GetErrorClass() != pb.ErrorClass_ERROR_CLASS_AGENT_LOST || lost.Attempt != 1 {
		t.Fatalf("claimed run after its deadline: %v %v, want agent lost on attempt 1", lost.GetResult(), err)
	}
	// The old attempt can no longer be claimed; the new one could.
	if _, err := st.ClaimRun(runs[0].RunId, 1, agent); !errors.Is(err, store.ErrNotYours) {
		t.Fatalf("claiming the first attempt after re-dispatch: %v, want ErrNotYours", err)
	}

	advance(time.Minute)
	if err := d.SweepExpired(); err != nil {
		t.Fatal(err)
	}
	if got := requests(); len(got) != 0 {
		t.Fatalf("a run was dispatched a third time: %v", got)
	}
	r, err = st.Run(runs[0].RunId)
	if err != nil || r.State != pb.RunState_RUN_STATE_DONE || r.Result.GetErrorClass() != pb.ErrorClass_ERROR_CLASS_CHECKPOINT_UNAVAILABLE || r.Result.Attempt != 2 {
		t.Fatalf("run after its second deadline: %v %v, want checkpoint unavailable on attempt 2", r.GetResult(), err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(notified) != 2 {
		t.Fatalf("notified %d results, want the agent-lost and the checkpoint-unavailable one", len(notified))
	}
}
