package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lookout-synthetics/lookout/controller/internal/monitorfile"
	"github.com/lookout-synthetics/lookout/controller/internal/store"
	"github.com/lookout-synthetics/lookout/internal/natsbus"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// PlatformItemID names the platform certificate in a SecretRef.
const PlatformItemID = "platform"

// MaxRunFileBytes caps the vault file content one run may reference. A run's material travels to
// the agent in one FetchRunSecrets response, and gRPC clients receive at most 4 MiB by default.
const MaxRunFileBytes = 3 << 20

// Publisher is the part of a NATS connection the dispatcher uses.
type Publisher interface {
	Publish(subject string, data []byte) error
}

// ItemResolver finds a vault item's id and current version by name.
type ItemResolver interface {
	Get(nameOrID string) (*pb.VaultItem, error)
}

// RunTable is the part of the store the dispatcher uses: it reads monitors, checkpoints and their
// instances, and records runs from queued to ended.
type RunTable interface {
	Checkpoint(nameOrID string) (*pb.Checkpoint, error)
	Instances(checkpointID string) ([]store.Agent, error)
	MonitorByID(id string) (*pb.Monitor, error)
	QueueRuns(runs []*pb.Run, refused []*pb.RunResult) (wait func() ([]*pb.RunResult, error), err error)
	RetryUnclaimed(now time.Time, maxAttempts int32) ([]*pb.Run, error)
	HandOverLost(now time.Time, maxAttempts int32, handOver func(*pb.Run) bool) ([]*pb.Run, error)
	ExpireRuns(now time.Time) ([]*pb.RunResult, error)
	EndRun(runID string, res *pb.RunResult) (*pb.RunResult, error)
	EndRuns(runIDs []string, res []*pb.RunResult) ([]*pb.RunResult, error)
	OpenRuns(want func(*pb.Run) bool) ([]*pb.Run, error)
	EndStranded(now time.Time, listed []*pb.Run, result func(*pb.Run) *pb.RunResult) ([]*pb.RunResult, error)
}

var _ RunTable = (*store.Store)(nil)

// Options configure a Dispatcher.
type Options struct {
	Store  RunTable
	Vault  ItemResolver
	Bus    Publisher
	Logger *slog.Logger
	// Grace is added to a monitor's timeout to make a run's deadline (time to pick it up and report).
	Grace time.Duration
	// Notify is called with every result the dispatcher itself stores (policy refusals, expiries).
	Notify func(*pb.RunResult)
	Now    func() time.Time
	// RunAttempts bounds how many times a run no agent claimed is dispatched before it ends as
	// "checkpoint unavailable"; default 2 (one re-dispatch).
	RunAttempts int
	// PlatformVersion is the loaded platform certificate's version, named in run requests so that
	// agents can tell whether the copy they hold is current.
	PlatformVersion int64
	// OnlineWindow: an instance heard from within it is live. A run for a checkpoint with no live
	// instance ends at once, saying when one was last seen, and a run whose claiming instance went
	// silent is handed to another live instance once. Zero turns both off.
	OnlineWindow time.Duration
}

// Dispatcher creates and publishes runs.
type Dispatcher struct {
	o       Options
	started time.Time // until one online window after it, every instance counts as live
}

// New returns a Dispatcher.
func New(o Options) *Dispatcher {
	if o.Grace == 0 {
		o.Grace = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Notify == nil {
		o.Notify = func(*pb.RunResult) {}
	}
	if o.RunAttempts <= 0 {
		o.RunAttempts = 2
	}
	return &Dispatcher{o: o, started: o.Now()}
}

// Dispatch starts one run of m on each named checkpoint (all of m's checkpoints when names is empty).
// Every run it returns is in the run table; a run that cannot go out is already ended with a result
// that says why.
func (d *Dispatcher) Dispatch(m *pb.Monitor, names []string, manual bool) ([]*pb.Run, error) {
	if len(names) == 0 {
		names = m.Checkpoints
	}
	var b batch
	for _, name := range names {
		cp, err := d.checkpoint(&b, name)
		if err != nil {
			return nil, fmt.Errorf("monitor %q names checkpoint %q: %w", m.Name, name, err)
		}
		b.add(d.prepare(&b, m, cp, manual))
	}
	return d.send(&b)
}

// DispatchScheduled starts one run of each monitor on each of its checkpoints, as one scheduler
// round: every run of the round is recorded in one transaction, then published. A checkpoint that
// no longer exists is logged and skipped; the monitor's other runs go out. It returns the runs it
// recorded.
func (d *Dispatcher) DispatchScheduled(due []*pb.Monitor) []*pb.Run {
	var b batch
	for _, m := range due {
		for _, name := range m.Checkpoints {
			cp, err := d.checkpoint(&b, name)
			if err != nil {
				d.o.Logger.Error("could not start a scheduled run", "monitor", m.Name, "checkpoint", name, "err", err)
				continue
			}
			b.add(d.prepare(&b, m, cp, false))
		}
	}
	runs, err := d.send(&b)
	if err != nil {
		d.o.Logger.Error("could not start scheduled runs", "runs", len(b.runs), "err", err)
	}
	return runs
}

// batch is runs prepared together: recorded in one transaction, then published. It remembers what
// it read or worked out per checkpoint, vault item and monitor: a round names the same few of each
// for many runs (every checkpoint of a monitor, every monitor using an item), and reads each once.
type batch struct {
	runs     []*pb.Run
	monitors []*pb.Monitor
	refusals []*pb.RunResult                                // nil where the run may go out
	cps      map[string]*pb.Checkpoint                      // by name
	items    map[string]*pb.VaultItem                       // by the name the monitor uses
	refs     map[*pb.Monitor]map[int][]monitorfile.VaultRef // by step, -1 for secret variables
	live     map[string]liveness                            // by checkpoint id
}

// remember returns (*m)[k], loading it on first use; a failed load is not remembered.
func remember[K comparable, V any](m *map[K]V, k K, load func(K) (V, error)) (V, error) {
	if v, ok := (*m)[k]; ok {
		return v, nil
	}
	v, err := load(k)
	if err != nil {
		return v, err
	}
	if *m == nil {
		*m = map[K]V{}
	}
	(*m)[k] = v
	return v, nil
}

// checkpoint reads a checkpoint once per batch.
func (d *Dispatcher) checkpoint(b *batch, name string) (*pb.Checkpoint, error) {
	return remember(&b.cps, name, d.o.Store.Checkpoint)
}

// item reads a vault item's metadata once per batch.
func (d *Dispatcher) item(b *batch, name string) (*pb.VaultItem, error) {
	return remember(&b.items, name, d.o.Vault.Get)
}

// vaultRefs is the vault items m references, by step (-1: its secret variables), worked out once
// per batch rather than for each of the monitor's checkpoints.
func vaultRefs(b *batch, m *pb.Monitor) map[int][]monitorfile.VaultRef {
	byStep, _ := remember(&b.refs, m, func(m *pb.Monitor) (map[int][]monitorfile.VaultRef, error) {
		byStep := map[int][]monitorfile.VaultRef{}
		for _, ref := range monitorfile.VaultRefs(m) {
			byStep[ref.Step] = append(byStep[ref.Step], ref)
		}
		return byStep, nil
	})
	return byStep
}

func (b *batch) add(r *pb.Run, m *pb.Monitor, refusal *pb.RunResult) {
	b.runs, b.monitors, b.refusals = append(b.runs, r), append(b.monitors, m), append(b.refusals, refusal)
}

// prepare builds a run of m on cp, with what it needs from the vault, or the refusal that ends it.
func (d *Dispatcher) prepare(b *batch, m *pb.Monitor, cp *pb.Checkpoint, manual bool) (*pb.Run, *pb.Monitor, *pb.RunResult) {
	now := d.o.Now()
	r := &pb.Run{
		RunId: store.NewID("run_"), MonitorId: m.Id, MonitorName: m.Name, MonitorVersion: m.Version,
		CheckpointId: cp.Id, CheckpointName: cp.Name, Attempt: 1, State: pb.RunState_RUN_STATE_DISPATCHED,
		ScheduledAt: timestamppb.New(now), Deadline: timestamppb.New(now.Add(m.Timeout.AsDuration() + d.o.Grace)),
		Manual: manual,
	}
	refs, refusal := d.secretRefs(b, m, cp)
	r.Secrets = refs
	if refusal == nil {
		refusal = d.noLiveInstance(b, cp)
	}
	return r, m, refusal
}

// noLiveInstance is the refusal of a run for cp when no instance of it is live, else nil. A failed
// read of the instances lets the run go out: the sweep ends it at its deadline if nobody takes it.
func (d *Dispatcher) noLiveInstance(b *batch, cp *pb.Checkpoint) *pb.RunResult {
	if d.o.OnlineWindow <= 0 {
		return nil
	}
	l, err := remember(&b.live, cp.Id, d.liveness)
	if err != nil {
		d.o.Logger.Error("could not tell whether a checkpoint has a live instance", "checkpoint", cp.Name, "err", err)
		return nil
	}
	if len(l.live) > 0 {
		return nil
	}
	return d.unavailable(cp.Name, l)
}

// send records b's runs (a refused run already ended with its refusal), publishes the others and
// returns once the records are durable. It publishes before the records are durable: the agent's
// claim is queued behind them (store.QueueRuns), so a run reaches its agent one commit sooner.
// Should the records fail, nothing was recorded, the claims of the published runs fail and the
// runs never start. A run that could not be published is ended as checkpoint unavailable.
func (d *Dispatcher) send(b *batch) ([]*pb.Run, error) {
	if len(b.runs) == 0 {
		return nil, nil
	}
	now := timestamppb.New(d.o.Now())
	for i, res := range b.refusals {
		if res != nil {
			res.StartedAt, res.FinishedAt = b.runs[i].ScheduledAt, now
		}
	}
	recorded, err := d.o.Store.QueueRuns(b.runs, b.refusals)
	if err != nil {
		return nil, fmt.Errorf("recording runs: %w", err)
	}
	var unsent []int        // indices in b.runs
	var why []*pb.RunResult // why each of them could not go out
	for i, r := range b.runs {
		if b.refusals[i] != nil {
			continue
		}
		if err := d.publish(r, b.monitors[i]); err != nil {
			unsent = append(unsent, i)
			why = append(why, &pb.RunResult{Outcome: pb.Outcome_OUTCOME_ERROR, ErrorClass: pb.ErrorClass_ERROR_CLASS_CHECKPOINT_UNAVAILABLE,
				Message: "could not publish the run request: " + err.Error(), StartedAt: r.ScheduledAt, FinishedAt: now})
		}
	}
	refused, err := recorded()
	if err != nil {
		return nil, fmt.Errorf("recording runs: %w", err)
	}
	for i, r := range b.runs {
		if refused[i] != nil {
			d.ended(r, refused[i])
		}
	}
	if len(unsent) == 0 {
		return b.runs, nil
	}
	ids := make([]string, len(unsent))
	for j, i := range unsent {
		ids[j] = b.runs[i].RunId
	}
	stored, err := d.o.Store.EndRuns(ids, why)
	if err != nil {
		// They stay dispatched: the sweep publishes them again at their deadline.
		return b.runs, fmt.Errorf("ending %d runs that could not be published: %w", len(unsent), err)
	}
	for j, i := range unsent {
		if stored[j] != nil { // nil: something else ended it first and said so
			d.ended(b.runs[i], stored[j])
		}
	}
	return b.runs, nil
}

// ended logs and notifies a run the controller ended itself, and marks the caller's copy done.
func (d *Dispatcher) ended(r *pb.Run, stored *pb.RunResult) {
	d.o.Logger.Warn("run ended by the controller", "run", r.RunId, "monitor", r.MonitorName, "checkpoint", r.CheckpointName, "reason", stored.Message)
	d.o.Notify(stored)
	r.State, r.Result = pb.RunState_RUN_STATE_DONE, stored
}

// secretRefs lists what the run will need, and refuses a run that breaks policy. The platform
// certificate is only ever referenced for a public checkpoint.
func (d *Dispatcher) secretRefs(b *batch, m *pb.Monitor, cp *pb.Checkpoint) ([]*pb.SecretRef, *pb.RunResult) {
	var refs []*pb.SecretRef
	seen := map[string]bool{}
	add := func(ref *pb.SecretRef) {
		if !seen[ref.ItemId] {
			seen[ref.ItemId] = true
			refs = append(refs, ref)
		}
	}
	byStep := vaultRefs(b, m)
	var fileBytes int64
	addItems := func(step int) *pb.RunResult {
		for _, ref := range byStep[step] {
			it, refusal := d.vaultItem(b, m, ref)
			if refusal != nil {
				return refusal
			}
			if !seen[it.Id] {
				fileBytes += it.GetFile().GetSize()
			}
			add(&pb.SecretRef{ItemId: it.Id, Name: it.Name, Version: it.Version, Type: it.Type})
		}
		return nil
	}
	if refusal := addItems(-1); refusal != nil {
		return nil, refusal
	}
	for i, st := range m.Steps {
		if st.GetRequest().GetClientCertificate().GetSource() == pb.CertificateSource_CERTIFICATE_SOURCE_PLATFORM {
			if cp.Kind != pb.CheckpointKind_CHECKPOINT_KIND_PUBLIC {
				return nil, policyRefusal(i, st, cp)
			}
			add(&pb.SecretRef{ItemId: PlatformItemID, Name: PlatformItemID, Version: d.o.PlatformVersion, Type: pb.VaultItemType_VAULT_ITEM_TYPE_CERTIFICATE})
		}
		if refusal := addItems(i); refusal != nil {
			return nil, refusal
		}
	}
	if fileBytes > MaxRunFileBytes {
		return nil, &pb.RunResult{Outcome: pb.Outcome_OUTCOME_ERROR, ErrorClass: pb.ErrorClass_ERROR_CLASS_SECRET,
			Message: fmt.Sprintf("the run needs %d bytes of vault files; a run may use at most %d MiB of them (they travel in one sealed message to the agent): use fewer or smaller files",
				fileBytes, MaxRunFileBytes>>20)}
	}
	return refs, nil
}

// vaultItem re-checks, at dispatch, an item the monitor references: it may have been deleted,
// replaced by an item of another type, or have expired since the monitor was applied.
func (d *Dispatcher) vaultItem(b *batch, m *pb.Monitor, ref monitorfile.VaultRef) (*pb.VaultItem, *pb.RunResult) {
	where := "secret variable " + strings.TrimPrefix(ref.Path, "secret_variables.")
	if ref.Step >= 0 {
		where = fmt.Sprintf("step %d (%q)", ref.Step+1, m.Steps[ref.Step].GetName())
	}
	refuse := func(format string, args ...any) *pb.RunResult {
		return &pb.RunResult{Outcome: pb.Outcome_OUTCOME_ERROR, ErrorClass: pb.ErrorClass_ERROR_CLASS_SECRET,
			Message: where + fmt.Sprintf(format, args...)}
	}
	it, err := d.item(b, ref.Item)
	if err != nil {
		return nil, refuse(" needs vault item %q: %v", ref.Item, err)
	}
	if it.Type != ref.Want {
		return nil, refuse(" needs vault item %q as a %s, but it is a %s now: apply the monitor again after fixing %s",
			ref.Item, ref.Want.Word(), it.Type.Word(), ref.Path)
	}
	if na := it.GetCertificate().GetNotAfter(); na != nil && !d.o.Now().Before(na.AsTime()) {
		// Fail clearly here rather than with the server's vague TLS alert.
		return nil, refuse(": client certificate %s expired on %s (vault item version %d): replace it with `lookout-controller vault replace-certificate %s -f NEW.p12`",
			it.Name, na.AsTime().UTC().Format(time.DateOnly), it.Version, it.Name)
	}
	if nb := it.GetCertificate().GetNotBefore(); nb != nil && d.o.Now().Before(nb.AsTime()) {
		return nil, refuse(": client certificate %s is not valid until %s (vault item version %d): wait until then, or replace it with `lookout-controller vault replace-certificate %s -f NEW.p12`",
			it.Name, nb.AsTime().UTC().Format(time.RFC3339), it.Version, it.Name)
	}
	return it, nil
}

func policyRefusal(i int, st *pb.Step, cp *pb.Checkpoint) *pb.RunResult {
	return &pb.RunResult{Outcome: pb.Outcome_OUTCOME_ERROR, ErrorClass: pb.ErrorClass_ERROR_CLASS_POLICY,
		Message: fmt.Sprintf("policy: step %d (%q) asks for the platform certificate, which is never sent to private checkpoint %q", i+1, st.Name, cp.Name)}
}

func (d *Dispatcher) publish(r *pb.Run, m *pb.Monitor) error {
	subject, err := natsbus.RunSubject(r.CheckpointId)
	if err != nil {
		return err
	}
	req := &pb.RunRequest{RunId: r.RunId, Attempt: r.Attempt, CheckpointId: r.CheckpointId,
		ScheduledAt: r.ScheduledAt, Deadline: r.Deadline, Monitor: m, Secrets: r.Secrets}
	data, err := proto.Marshal(req)
	if err != nil {
		return err
	}
	return d.o.Bus.Publish(subject, data)
}

// SweepExpired re-dispatches the runs no agent claimed by their deadline, and hands the runs whose
// claiming instance went silent to another live instance (up to RunAttempts in all), each checked
// again as at dispatch; it ends the runs of checkpoints with no live instance left without waiting
// for their deadline; then it ends every other run past its deadline and notifies their results.
func (d *Dispatcher) SweepExpired() error {
	now := d.o.Now()
	// Runs retried or handed over before an error are recorded with their new attempt: send them
	// all the same.
	retried, retryErr := d.o.Store.RetryUnclaimed(now, int32(d.o.RunAttempts))
	for _, r := range retried {
		d.resend(r, "re-dispatched a run no agent picked up before its deadline")
	}
	handed, handErr := d.o.Store.HandOverLost(now, int32(d.o.RunAttempts), d.handOver(map[string]liveness{}))
	for _, r := range handed {
		d.resend(r, "handed a run to another instance: the one that claimed it went silent")
	}
	if err := errors.Join(retryErr, handErr); err != nil {
		// The runs it did not reach would be ended below instead of retried: leave them to the
		// next sweep.
		return err
	}
	strandErr := d.endStranded(map[string]liveness{})
	ended, err := d.o.Store.ExpireRuns(now)
	for _, res := range ended {
		d.o.Logger.Warn("run passed its deadline", "run", res.RunId, "monitor", res.MonitorName, "checkpoint", res.CheckpointName, "reason", res.Message)
		d.o.Notify(res)
	}
	return errors.Join(strandErr, err)
}

// RunSweeper sweeps every interval until ctx ends.
func (d *Dispatcher) RunSweeper(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := d.SweepExpired(); err != nil && !errors.Is(err, context.Canceled) {
				d.o.Logger.Error("sweeping expired runs", "err", err)
			}
		}
	}
}
