package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/proto"

	"github.com/lookout-synthetics/lookout/agent/internal/identity"
	"github.com/lookout-synthetics/lookout/agent/internal/runner"
	"github.com/lookout-synthetics/lookout/agent/internal/spool"
	"github.com/lookout-synthetics/lookout/internal/agenterr"
	"github.com/lookout-synthetics/lookout/internal/natsbus"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/runcalls"
)

// Tap, when set, sees every payload the agent receives from the controller, decoded: NATS messages,
// gRPC responses, and unsealed run secrets. Tests use it to prove what a private agent never gets.
type Tap func(channel string, payload []byte)

// Options configure an Agent.
type Options struct {
	Identity *identity.Identity
	Version  string
	Logger   *slog.Logger
	Runner   runner.Options
	// Heartbeat is how often the agent tells the controller it is alive; default 10s.
	Heartbeat time.Duration
	// MaxConcurrent bounds runs executing at once (--max-concurrent-runs); default 64. A run that
	// finds every slot busy waits for one, until its deadline, and the agent reports itself
	// saturated.
	MaxConcurrent int
	Tap           Tap
	// Spool, when set, keeps each result on disk until the controller acknowledges it; results the
	// controller could not take before the run's deadline are replayed, in order, when it answers.
	Spool *spool.Spool
	// ReplayEvery is how often spooled results are offered again; default 2s.
	ReplayEvery time.Duration
}

// Agent is a running checkpoint instance.
type Agent struct {
	o      Options
	id     *identity.Identity
	log    *slog.Logger
	rpc    atomic.Pointer[rpcConn] // replaced after a certificate renewal
	dial   []grpc.DialOption
	runner *runner.Runner
	cache  *secretCache
	slots  *slots
	sub    atomic.Pointer[nats.Subscription] // the run subscription, for its pending count
	wg     sync.WaitGroup
	// wasSaturated is what the previous heartbeat said; only the heartbeat goroutine uses it.
	wasSaturated bool

	inflightMu sync.Mutex
	inflight   map[uint64]bool // spooled results a report call is still sending
}

// New connects the gRPC client (lazily) and prepares the runner.
func New(o Options) (*Agent, error) {
	if o.Heartbeat == 0 {
		o.Heartbeat = 10 * time.Second
	}
	if o.MaxConcurrent == 0 {
		o.MaxConcurrent = 64
	}
	if o.ReplayEvery == 0 {
		o.ReplayEvery = 2 * time.Second
	}
	if o.Runner.Logger == nil {
		o.Runner.Logger = o.Logger
	}
	a := &Agent{o: o, id: o.Identity, log: o.Logger, runner: runner.New(o.Runner), cache: newSecretCache(o.Identity.Private()), slots: newSlots(o.MaxConcurrent),
		inflight: map[uint64]bool{}}
	dialOpts := []grpc.DialOption{
		grpc.WithTransportCredentials(credentials.NewTLS(a.id.TLSConfig())),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second, PermitWithoutStream: true}),
	}
	if o.Tap != nil {
		dialOpts = append(dialOpts, grpc.WithUnaryInterceptor(a.tapUnary))
	}
	a.dial = dialOpts
	rc, err := a.connect()
	if err != nil {
		return nil, err
	}
	a.rpc.Store(rc)
	return a, nil
}

// rpcConn is one gRPC connection to the controller. A connection keeps the client certificate it
// was opened with, so after a renewal the agent opens a new one and retires the old.
type rpcConn struct {
	conn   *grpc.ClientConn
	client pb.AgentServiceClient
	calls  *runcalls.Client // claims and results, on one stream of conn
}

func (c *rpcConn) close() {
	c.calls.Close()
	c.conn.Close()
}

func (a *Agent) connect() (*rpcConn, error) {
	conn, err := grpc.NewClient(a.id.Controller, a.dial...)
	if err != nil {
		return nil, fmt.Errorf("controller address %q: %w", a.id.Controller, err)
	}
	client := pb.NewAgentServiceClient(conn)
	return &rpcConn{conn: conn, client: client, calls: runcalls.New(client, a.o.Tap)}, nil
}

// api is the controller's AgentService over the current connection.
func (a *Agent) api() pb.AgentServiceClient { return a.rpc.Load().client }

// calls is the controller's FetchRunSecrets and ReportResult over the current connection's stream.
func (a *Agent) calls() *runcalls.Client { return a.rpc.Load().calls }

func (a *Agent) tapUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if m, ok := reply.(proto.Message); ok && err == nil {
		b, _ := proto.Marshal(m)
		a.o.Tap("grpc:"+method, b)
	}
	return err
}

// ErrRevoked ends Run when the controller says this agent was revoked: retrying cannot help.
var ErrRevoked = errors.New("this agent was revoked by the controller's operator; enroll it again with a new token and a new --state-dir")

// Run serves until ctx ends, then waits for runs in flight to report. It returns ErrRevoked, without
// waiting, as soon as the controller says the agent was revoked.
func (a *Agent) Run(ctx context.Context) error {
	defer func() { a.rpc.Load().close() }()
	if _, notAfter, err := a.id.RenewDue(time.Now()); err == nil && !time.Now().Before(notAfter) {
		return fmt.Errorf("%w (it expired at %s)", identity.ErrExpired, notAfter.UTC().Format(time.RFC3339))
	}
	runs, err := a.subscribe(ctx)
	if err != nil {
		return err
	}
	defer func() { runs.nc.Close() }()
	// The first heartbeat comes after the subscription: the controller lists an agent online from
	// its heartbeats, and an operator who applies a monitor as soon as it is online expects the
	// first run to reach it. It also tells a revoked agent to stop.
	if a.heartbeat(ctx) {
		_ = runs.sub.Unsubscribe()
		return ErrRevoked
	}
	a.log.Info("agent ready", "agent", a.id.AgentID, "checkpoint", a.id.CheckpointName, "kind", a.id.Kind, "nats", a.id.NATSURL)
	if a.o.Spool != nil {
		a.wg.Add(1)
		go func() { defer a.wg.Done(); a.replayLoop(ctx) }()
	}
	if err := a.heartbeats(ctx, &runs); err != nil {
		_ = runs.sub.Unsubscribe()
		a.log.Error(err.Error())
		return err // runs in flight are abandoned: the controller refuses their results anyway
	}
	_ = runs.sub.Unsubscribe()
	a.wg.Wait()
	return nil
}

// runFeed is a NATS connection and the agent's subscription to its checkpoint's runs on it. A
// certificate renewal replaces it with one that presents the new certificate.
type runFeed struct {
	nc  *nats.Conn
	sub *nats.Subscription
}

// subscribe connects to NATS and joins the checkpoint's queue group. When NATS is not reachable
// yet, the subscription goes out once it answers.
func (a *Agent) subscribe(ctx context.Context) (*runFeed, error) {
	nc, err := a.connectNATS()
	if err != nil {
		return nil, err
	}
	sub, err := nc.QueueSubscribe(a.id.RunSubject, a.id.QueueGroup, func(msg *nats.Msg) { a.onRequest(ctx, msg.Data) })
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("subscribing to runs: %w", err)
	}
	a.sub.Store(sub) // for its pending count (saturation)
	if !nc.IsConnected() {
		a.log.Warn("NATS is not reachable yet; runs will arrive once it is", "nats", a.id.NATSURL)
		return &runFeed{nc: nc, sub: sub}, nil
	}
	if err := nc.Flush(); err != nil {
		nc.Close()
		return nil, fmt.Errorf("subscribing to runs: %w", err)
	}
	if err := nc.LastError(); err != nil {
		nc.Close()
		return nil, fmt.Errorf("NATS refused the subscription: %w", err)
	}
	return &runFeed{nc: nc, sub: sub}, nil
}

func (a *Agent) connectNATS() (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name("lookout-agent " + a.id.AgentID),
		nats.CustomInboxPrefix(natsbus.InboxPrefix(a.id.AgentID)),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true), // an agent started while NATS is down waits for it
		// An external NATS learns of a new agent when its operator reloads the authorization the
		// controller prints (checkpoint nats-config): keep trying through "authorization
		// violation" until then. A revoked agent stops on its heartbeat instead.
		nats.IgnoreAuthErrorAbort(),
		nats.ClosedHandler(func(nc *nats.Conn) { a.log.Warn("NATS connection closed", "err", nc.LastError()) }),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { a.log.Warn("NATS disconnected", "err", err) }),
		nats.ReconnectHandler(func(*nats.Conn) { a.log.Info("NATS reconnected") }),
		nats.ConnectHandler(func(*nats.Conn) { a.log.Info("NATS connected") }), // after a failed first attempt
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { a.log.Warn("NATS error", "err", err) }),
	}
	opts = append(opts, nats.Secure(a.id.TLSConfig()))
	nc, err := nats.Connect(a.id.NATSURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS at %s: %w", a.id.NATSURL, err)
	}
	return nc, nil
}

// heartbeats beats, and renews the agent's certificate when it is due, until ctx ends (nil), the
// controller says the agent is revoked (ErrRevoked) or the certificate expired (ErrExpired).
func (a *Agent) heartbeats(ctx context.Context, runs **runFeed) error {
	t := time.NewTicker(a.o.Heartbeat)
	defer t.Stop()
	for {
		if a.heartbeat(ctx) {
			return ErrRevoked
		}
		if err := a.renewIfDue(ctx, runs); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// heartbeat tells the controller this instance is alive and what it holds, and drops what the
// answer says is stale. It reports whether the controller says the agent is revoked.
func (a *Agent) heartbeat(ctx context.Context) (revoked bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := a.api().Heartbeat(ctx, a.heartbeatRequest())
	if err != nil {
		if agenterr.IsRevoked(err) {
			return true
		}
		if ctx.Err() == nil {
			a.log.Warn("heartbeat failed", "err", err)
		}
		return false
	}
	if n := a.cache.drop(resp.GetDrop()); n > 0 {
		a.log.Info("dropped secrets the controller no longer sends this checkpoint", "items", n)
	}
	return resp.GetRevoked()
}

func (a *Agent) heartbeatRequest() *pb.HeartbeatRequest {
	st := a.SlotStats()
	saturated := a.slots.saturated()
	if saturated && !a.wasSaturated {
		a.log.Warn("every run slot is busy: runs wait for a slot and start late; raise --max-concurrent-runs or add an instance to the checkpoint",
			"max_concurrent_runs", st.Max, "runs_waiting", st.Waiting)
	}
	a.wasSaturated = saturated
	return &pb.HeartbeatRequest{Version: a.o.Version, Cached: a.cache.list(), RunsInFlight: int32(st.InFlight), SpooledResults: a.spooled(),
		MaxConcurrentRuns: int32(st.Max), RunsWaiting: int32(st.Waiting), Saturated: saturated}
}

// SlotStats reports the run slots, for metrics. Runs queued behind the subscription's handler
// count as waiting too, since the handler waits while every slot is busy; the subscription's
// pending count includes the message its handler holds, hence the one taken off.
func (a *Agent) SlotStats() SlotStats {
	st := a.slots.stats()
	if sub := a.sub.Load(); sub != nil {
		if n, _, err := sub.Pending(); err == nil {
			st.Waiting += max(n-1, 0)
		}
	}
	return st
}

func (a *Agent) spooled() int64 {
	if a.o.Spool == nil {
		return 0
	}
	return int64(a.o.Spool.Len())
}

func (a *Agent) onRequest(ctx context.Context, data []byte) {
	if a.o.Tap != nil {
		a.o.Tap("nats:"+a.id.RunSubject, data)
	}
	req := &pb.RunRequest{}
	if err := proto.Unmarshal(data, req); err != nil {
		a.log.Error("dropping a malformed run request", "err", err)
		return
	}
	// Waiting here holds up the subscription too: later runs wait in NATS's pending queue, in
	// order, and are counted as waiting.
	if !a.slots.acquire(ctx, req.Deadline.AsTime()) {
		if ctx.Err() == nil {
			a.log.Warn("a run's deadline passed while it waited for a free run slot; not running it", "run", req.RunId,
				"monitor", req.GetMonitor().GetName(), "max_concurrent_runs", a.o.MaxConcurrent)
		}
		return
	}
	a.wg.Add(1)
	go func() {
		defer func() { a.slots.release(); a.wg.Done() }()
		a.execute(context.WithoutCancel(ctx), req)
	}()
}

// execute runs one request and reports its result. It is bounded by the run's deadline, not by the
// agent's lifetime: a run in flight at shutdown still reports.
func (a *Agent) execute(ctx context.Context, req *pb.RunRequest) {
	ctx, cancel := context.WithDeadline(ctx, req.Deadline.AsTime())
	defer cancel()
	log := a.log.With("run", req.RunId, "monitor", req.GetMonitor().GetName())
	res, claimed := a.perform(ctx, req)
	if !claimed {
		return
	}
	a.report(ctx, log, res)
}

// perform claims the run and runs it. A run another instance claimed is not ours: claimed=false.
func (a *Agent) perform(ctx context.Context, req *pb.RunRequest) (*pb.RunResult, bool) {
	if a.id.Private() && wantsPlatform(req) {
		// Never even ask for it. The controller refuses such runs before dispatch; reaching this
		// line means something upstream is wrong, so say so loudly and let the run expire.
		a.log.Error("refusing a run that asks for the platform certificate on a private checkpoint; not claiming it", "run", req.RunId, "monitor", req.GetMonitor().GetName())
		return nil, false
	}
	held, err := a.fetch(ctx, req)
	var bad *materialError
	if errors.As(err, &bad) {
		return refusal(req, classOf(err), err.Error()), true
	}
	if err != nil {
		return nil, false
	}
	rs, err := a.resolve(req, held)
	if err != nil {
		return refusal(req, classOf(err), err.Error()), true
	}
	res := a.runner.Run(ctx, req, rs)
	res.AgentId = a.id.AgentID
	return res, true
}

func wantsPlatform(req *pb.RunRequest) bool {
	for _, st := range req.GetMonitor().GetSteps() {
		if st.GetRequest().GetClientCertificate().GetSource() == pb.CertificateSource_CERTIFICATE_SOURCE_PLATFORM {
			return true
		}
	}
	return false
}

func refusal(req *pb.RunRequest, class pb.ErrorClass, msg string) *pb.RunResult {
	now := time.Now()
	return &pb.RunResult{RunId: req.RunId, Attempt: req.Attempt, Outcome: pb.Outcome_OUTCOME_ERROR, ErrorClass: class, Message: msg,
		StartedAt: timestamp(now), FinishedAt: timestamp(now)}
}

// report sends the result, retrying transient failures until the run's deadline. With a spool, the
// result is written there first and removed only once the controller acknowledged it (a duplicate
// counts) or refused it for good; one the deadline overtook stays for the replay loop.
func (a *Agent) report(ctx context.Context, log *slog.Logger, res *pb.RunResult) {
	seq, spooled := a.spoolResult(log, res)
	if spooled {
		defer func() { a.inflightMu.Lock(); delete(a.inflight, seq); a.inflightMu.Unlock() }()
	}
	wait := 200 * time.Millisecond
	for {
		_, err := a.calls().ReportResult(ctx, &pb.ReportResultRequest{Result: res})
		if err == nil {
			log.Info("run reported", "outcome", res.Outcome.String(), "message", res.Message)
			a.unspool(log, seq, spooled)
			return
		}
		if !transient(err) && ctx.Err() == nil {
			log.Error("the controller refused the run's result; dropping it", "err", err)
			a.unspool(log, seq, spooled)
			return
		}
		if ctx.Err() == nil {
			if wait == 200*time.Millisecond {
				log.Warn("the controller did not take the run's result; retrying", "err", err, "spooled", spooled)
			}
			select {
			case <-ctx.Done():
			case <-time.After(wait):
				wait = min(wait*2, 5*time.Second)
				continue
			}
		}
		if spooled {
			log.Warn("the controller did not take the run's result before its deadline; kept in the spool for replay", "err", err)
		} else {
			log.Error("could not report the run's result before its deadline", "err", err)
		}
		return
	}
}

func (a *Agent) spoolResult(log *slog.Logger, res *pb.RunResult) (uint64, bool) {
	if a.o.Spool == nil {
		return 0, false
	}
	b, err := proto.Marshal(res)
	if err != nil {
		log.Error("could not encode the result for the spool", "err", err)
		return 0, false
	}
	a.inflightMu.Lock()
	defer a.inflightMu.Unlock()
	seq, dropped, err := a.o.Spool.Put(b)
	if dropped > 0 {
		log.Error("result spool full: dropped the oldest spooled results", "dropped", dropped, "dropped_total", a.o.Spool.Dropped())
	}
	if err != nil {
		log.Error("could not spool the result; sending it without a spool", "err", err)
		return 0, false
	}
	a.inflight[seq] = true
	return seq, true
}

func (a *Agent) unspool(log *slog.Logger, seq uint64, spooled bool) {
	if !spooled {
		return
	}
	if err := a.o.Spool.Delete(seq); err != nil {
		log.Error("could not remove a reported result from the spool", "err", err)
	}
}

// replayLoop offers spooled results again, oldest first, at start and every ReplayEvery, until ctx
// ends. A pass stops at the first transient failure (the controller is still out of reach).
func (a *Agent) replayLoop(ctx context.Context) {
	t := time.NewTicker(a.o.ReplayEvery)
	defer t.Stop()
	for {
		a.replay(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (a *Agent) replay(ctx context.Context) {
	pending, err := a.o.Spool.Pending(256)
	if err != nil {
		a.log.Error("reading the result spool", "err", err)
		return
	}
	for _, e := range pending {
		a.inflightMu.Lock()
		busy := a.inflight[e.Seq]
		a.inflightMu.Unlock()
		if busy {
			continue
		}
		res := &pb.RunResult{}
		if err := proto.Unmarshal(e.Data, res); err != nil {
			a.log.Error("dropping an unreadable spooled result", "seq", e.Seq, "err", err)
			a.unspool(a.log, e.Seq, true)
			continue
		}
		log := a.log.With("run", res.RunId, "spool_seq", e.Seq)
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := a.calls().ReportResult(cctx, &pb.ReportResultRequest{Result: res})
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err == nil:
			log.Info("spooled result reported", "outcome", res.Outcome.String())
			a.unspool(log, e.Seq, true)
		case !transient(err):
			log.Error("the controller refused a spooled result; dropping it", "err", err)
			a.unspool(log, e.Seq, true)
		default:
			return
		}
	}
}

var errPlatformOffered = errors.New("policy: the controller offered platform certificate material to this private checkpoint; refused and discarded")

// CacheStats reports the secret cache, for metrics.
func (a *Agent) CacheStats() CacheStats { return a.cache.stats() }
