package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/lookout-synthetics/lookout/controller/internal/alerting"
	"github.com/lookout-synthetics/lookout/controller/internal/api"
	"github.com/lookout-synthetics/lookout/controller/internal/collect"
	"github.com/lookout-synthetics/lookout/controller/internal/dispatcher"
	"github.com/lookout-synthetics/lookout/controller/internal/natsembed"
	"github.com/lookout-synthetics/lookout/controller/internal/refusals"
	"github.com/lookout-synthetics/lookout/controller/internal/scheduler"
	"github.com/lookout-synthetics/lookout/controller/internal/store"
	"github.com/lookout-synthetics/lookout/controller/internal/tokens"
	"github.com/lookout-synthetics/lookout/controller/internal/vault"
	"github.com/lookout-synthetics/lookout/internal/fileperm"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/pki"
)

// Options configure a controller. Zero values get the defaults of `serve`.
type Options struct {
	DataDir                  string
	GRPCListen               string   // default 127.0.0.1:7443
	NATSListen               string   // embedded NATS; default 127.0.0.1:4222
	NATSURL                  string   // external NATS instead of the embedded one
	NATSAdvertiseURL         string   // what agents are told to connect to (default: the server's own URL)
	Hosts                    []string // extra names/IPs for the server certificate
	PlatformCertFile         string
	PlatformCertPasswordFile string
	MasterKeyFile            string // default DataDir/master.key, created when missing
	MetricsListen            string // empty: no metrics listener
	OTLPEndpoint             string // HOST:PORT of an OTLP gRPC receiver for result traces; empty: none
	OTLPInsecure             bool   // plain gRPC to the OTLP receiver
	PprofListen              string // empty: no /debug/pprof listener
	Logger                   *slog.Logger
	// RunGrace is added to a monitor's timeout to make each run's deadline.
	RunGrace time.Duration
	// RunAttempts bounds how often a run no agent picked up is dispatched (default 2).
	RunAttempts int
	// AgentCertTTL is the lifetime of the client certificates agents get at enrollment and renewal;
	// default 30 days. Agents renew when a third of it is left.
	AgentCertTTL time.Duration
	// Retention bounds how long finished runs, their results and audit entries are kept; zero
	// keeps them forever (serve's flags default to 30 and 90 days).
	Retention store.Retention

	// HTTPListen serves the web console there (empty: no console); plain HTTP only on loopback,
	// elsewhere HTTPCertFile and HTTPKeyFile are required.
	HTTPListen, HTTPCertFile, HTTPKeyFile string
}

// Server is a running controller.
type Server struct {
	o           Options
	log         *slog.Logger
	store       *store.Store
	refusals    *refusals.Limiter // merged audit entries of refused agent calls
	grpc        *grpc.Server
	lis         net.Listener
	metricsLis  net.Listener
	metricsSrv  *http.Server
	traces      traceExport // result traces to OTLP; a no-op without --otlp-endpoint
	metricsAddr string
	pprofLis    net.Listener
	pprofSrv    *http.Server
	web         *webConsole
	nc          *nats.Conn
	embedded    *natsembed.Server
	natsURL     string
	cancel      context.CancelFunc
	done        chan struct{} // closed when the background goroutines (sweeper, pruner …) returned
	// serving runs each listener's Serve; the first that fails cancels failed with its error,
	// which stops the background goroutines and ends Wait.
	serving *errgroup.Group
	failed  context.Context
	failure atomic.Pointer[error] // the first listener's failure; set before failed ends
	// Auth checks tokens; the web console uses its TokenScope.
	Auth *api.Authenticator
	// Queries answers last results and monitor status, for in-process readers (the web console).
	Queries *collect.Queries
	// Files the admin CLI needs.
	CAFile, TokenFile string
}

// Start opens everything and starts serving. Call Close to stop.
func Start(ctx context.Context, o Options) (_ *Server, err error) {
	o = withDefaults(o)
	s := &Server{o: o, log: o.Logger, done: make(chan struct{})}
	// On any failure, release what was opened so far (data file, listeners) before returning the
	// error; the named result err is what the returns below set.
	defer func() {
		if err != nil {
			s.closeAll()
		}
	}()
	if was, err := fileperm.TightenDir(o.DataDir); err != nil {
		return nil, err
	} else if was != 0 {
		s.log.Warn("the data dir was readable by others; made it private (0700)", "dir", o.DataDir, "was", fmt.Sprintf("%04o", was))
	}
	ca, created, err := pki.LoadOrCreateCA(o.DataDir)
	if err != nil {
		return nil, err
	}
	s.CAFile = filepath.Join(o.DataDir, "ca.pem")
	if created {
		s.log.Info("created the internal CA", "file", s.CAFile)
	}
	token, err := s.adminToken()
	if err != nil {
		return nil, err
	}
	v, platform, err := s.openState(o)
	if err != nil {
		return nil, err
	}
	serverCert, err := ca.ServerCertificate(hosts(o))
	if err != nil {
		return nil, err
	}
	tlsConf := &tls.Config{Certificates: []tls.Certificate{serverCert.TLS(ca)}, ClientCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
	if err := s.startNATS(ca, tlsConf); err != nil {
		return nil, err
	}
	return s, s.startServing(ctx, ca, tlsConf, token, v, platform)
}

func withDefaults(o Options) Options {
	if o.GRPCListen == "" {
		o.GRPCListen = "127.0.0.1:7443"
	}
	if o.NATSListen == "" {
		o.NATSListen = "127.0.0.1:4222"
	}
	if o.MasterKeyFile == "" {
		o.MasterKeyFile = filepath.Join(o.DataDir, "master.key")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.AgentCertTTL == 0 {
		o.AgentCertTTL = 30 * 24 * time.Hour
	}
	if o.RunGrace == 0 {
		o.RunGrace = 10 * time.Second
	}
	return o
}

func hosts(o Options) []string {
	h := append([]string{"127.0.0.1", "::1", "localhost"}, o.Hosts...)
	if name, err := os.Hostname(); err == nil {
		h = append(h, name)
	}
	return h
}

// adminToken reads DataDir/admin.token, creating it (0600) on first start.
func (s *Server) adminToken() (string, error) {
	s.TokenFile = filepath.Join(s.o.DataDir, "admin.token")
	b, err := readPrivate(s.TokenFile, "admin token file")
	if err == nil {
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", fmt.Errorf("admin token file %s is empty: delete it to have a new one made", s.TokenFile)
		}
		return tok, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("reading admin token: %w", err)
	}
	raw := make([]byte, 32)
	rand.Read(raw) // never returns an error (Go 1.24+)
	tok := hex.EncodeToString(raw)
	if err := os.WriteFile(s.TokenFile, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing admin token: %w", err)
	}
	s.log.Info("created the admin token", "file", s.TokenFile)
	return tok, nil
}

// readPrivate reads a secret file after checking that only its owner can read it.
func readPrivate(path, what string) ([]byte, error) {
	if err := fileperm.CheckPrivate(path, what); err != nil {
		return nil, err
	}
	return os.ReadFile(path)
}

func (s *Server) openState(o Options) (*vault.Vault, *api.Platform, error) {
	_, statErr := os.Stat(o.MasterKeyFile)
	create := errors.Is(statErr, os.ErrNotExist) && o.MasterKeyFile == filepath.Join(o.DataDir, "master.key")
	key, err := vault.LoadMasterKey(o.MasterKeyFile, create)
	if err != nil {
		return nil, nil, err
	}
	if create {
		s.log.Info("created a master key; back it up: without it the vault cannot be read", "file", o.MasterKeyFile)
	}
	if s.store, err = store.Open(o.DataDir); err != nil {
		return nil, nil, err
	}
	v, err := vault.Open(vault.Options{DB: s.store.DB(), MasterKey: key})
	if err != nil {
		return nil, nil, err
	}
	platform, err := loadPlatform(o.PlatformCertFile, o.PlatformCertPasswordFile)
	if err != nil {
		return nil, nil, err
	}
	if platform != nil {
		s.log.Info("platform certificate loaded", "subject", platform.Info.Subject, "sha256", platform.Info.Sha256Fingerprint)
	}
	return v, platform, nil
}

func (s *Server) startNATS(ca *pki.CA, tlsConf *tls.Config) error {
	var err error
	if s.o.NATSURL != "" {
		s.natsURL = s.o.NATSURL
		// Offer TLS with the controller's own client certificate: a deployment set up as
		// docs/external-nats.md says verifies it and maps it to the controller's user. The
		// connection upgrades to TLS when the server asks for it (or the URL says tls://).
		cert, err := ca.ControllerClientCertificate()
		if err != nil {
			return err
		}
		clientTLS := &tls.Config{Certificates: []tls.Certificate{cert.TLS(ca)}, RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
		withTLS := func(o *nats.Options) error { o.TLSConfig = clientTLS; return nil }
		s.nc, err = nats.Connect(s.o.NATSURL, nats.Name("lookout-controller"), nats.MaxReconnects(-1), nats.Timeout(5*time.Second), withTLS)
		if err != nil {
			return fmt.Errorf("connecting to NATS at %s: %w", s.o.NATSURL, err)
		}
	} else {
		if err := probeListen(s.o.NATSListen); err != nil {
			return err
		}
		s.embedded, err = natsembed.Start(natsembed.Options{Listen: s.o.NATSListen, TLS: tlsConf, Logger: s.log, Authorize: s.authorizeNATS})
		if err != nil {
			return err
		}
		s.natsURL = s.embedded.ClientURL()
		if s.nc, err = s.embedded.ConnectInProcess(); err != nil {
			return fmt.Errorf("connecting to the embedded NATS: %w", err)
		}
	}
	if s.o.NATSAdvertiseURL != "" {
		s.natsURL = s.o.NATSAdvertiseURL
	}
	s.log.Info("NATS ready", "url", s.natsURL, "embedded", s.embedded != nil)
	return nil
}

// probeListen fails fast, with the flag to change, when the embedded NATS address is taken: the
// NATS server itself only logs the error and would leave Start waiting for it.
func probeListen(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--nats-listen %s: cannot listen there (%v); is another controller running? Stop it or pick another address", addr, err)
	}
	return l.Close()
}

func (s *Server) authorizeNATS(id pki.Identity) error {
	ag, err := s.store.Agent(id.AgentID)
	switch {
	case err != nil:
		return fmt.Errorf("agent %s is not enrolled", id.AgentID)
	case ag.Revoked:
		return fmt.Errorf("agent %s is revoked", id.AgentID)
	case ag.CheckpointID != id.CheckpointID:
		return fmt.Errorf("agent %s certificate names another checkpoint", id.AgentID)
	}
	return nil
}

// onlineWindow: an agent instance heard from within it is online (three default heartbeats).
const onlineWindow = 30 * time.Second

func (s *Server) startServing(parent context.Context, ca *pki.CA, tlsConf *tls.Config, token string, v *vault.Vault, platform *api.Platform) error {
	ctx, cancel := context.WithCancel(parent)
	s.cancel = cancel
	s.serving, ctx = errgroup.WithContext(ctx)
	s.failed = ctx
	m := newMetrics(s.store)
	m.vault = newVaultExpiry(v.List, time.Now)
	m.fleet = newFleetStatus(s.store, time.Now, onlineWindow)
	probes, err := collect.NewProbeSeries(s.store, s.log)
	if err != nil {
		return fmt.Errorf("loading the latest results for /metrics: %w", err)
	}
	m.probes = probes
	if err := s.startTraces(ctx, m); err != nil {
		return err
	}
	hub := api.NewHub()
	idx, err := s.consoleIndex()
	if err != nil {
		return err
	}
	al := newAlerting(s.store, v, s.log, m)
	notify := func(res *pb.RunResult) {
		m.observe(res)
		probes.Observe(res)
		s.traces.Export(res)
		hub.Publish(res)
		al.engine.Observe(res)
		idx.Observe(res)
	}
	disp := dispatcher.New(dispatcher.Options{Store: s.store, Vault: v, Bus: s.nc, Logger: s.log, Grace: s.o.RunGrace, Notify: notify,
		RunAttempts: s.o.RunAttempts, PlatformVersion: platform.Version(), OnlineWindow: onlineWindow})
	al.confirm.d = disp
	sched := scheduler.New(scheduler.Options{Dispatch: func(due []*pb.Monitor) {
		m.dispatched.Add(float64(len(disp.DispatchScheduled(due))))
	}})
	resync := coalesced(func() {
		ms, err := s.store.Monitors()
		if err != nil {
			s.log.Error("loading monitors", "err", err)
			return
		}
		sched.Sync(ms)
	})
	resync()

	serverTLS := tlsConf.Clone()
	serverTLS.ClientAuth = tls.VerifyClientCertIfGiven
	s.refusals = refusals.New(refusals.Options{Audit: s.store.Audit, Logger: s.log})
	toks, err := tokens.Open(tokens.Options{DB: s.store.DB()})
	if err != nil {
		cancel()
		return err
	}
	auth := &api.Authenticator{AdminToken: token, Store: s.store, Refusals: s.refusals, Tokens: toks}
	s.Auth = auth
	s.grpc = grpc.NewServer(
		grpc.Creds(credentials.NewTLS(serverTLS)),
		grpc.MaxRecvMsgSize(8<<20),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.ChainUnaryInterceptor(auth.Unary),
		grpc.ChainStreamInterceptor(auth.Stream),
	)
	admin := &api.Admin{Store: s.store, Vault: v, Dispatcher: disp, Platform: platform, Resync: resync, Upsert: sched.Upsert, Logger: s.log, OnlineWindow: onlineWindow,
		Alerting: alerting.Refs{Store: s.store}, Refusals: s.refusals}
	pb.RegisterAdminServiceServer(s.grpc, admin)
	pb.RegisterFleetServiceServer(s.grpc, &api.Fleet{Store: s.store, Logger: s.log})
	pb.RegisterAgentServiceServer(s.grpc, &api.Agents{Store: s.store, Vault: v, CA: ca, Platform: platform, NATSURL: s.natsURL, CertTTL: s.o.AgentCertTTL, Notify: notify, Logger: s.log, Secrets: m.secrets,
		Stopping: ctx.Done(), Refusals: s.refusals})
	pb.RegisterResultServiceServer(s.grpc, &api.Results{Store: s.store, Hub: hub})
	pb.RegisterAlertServiceServer(s.grpc, al.service)
	pb.RegisterTokenServiceServer(s.grpc, &collect.TokenService{Tokens: toks, Audit: s.store, Logger: s.log})
	s.Queries = &collect.Queries{Store: s.store}
	pb.RegisterQueryServiceServer(s.grpc, &collect.QueryService{Queries: s.Queries})
	healthpb.RegisterHealthServer(s.grpc, health.NewServer())
	reflection.Register(s.grpc) // for grpcurl and other programs; api.methodNeeds gates it like any call

	lis, err := net.Listen("tcp", s.o.GRPCListen)
	if err != nil {
		return fmt.Errorf("--grpc-listen %s: %w", s.o.GRPCListen, err)
	}
	s.lis = lis
	if err := s.startMetrics(ctx, m); err != nil {
		return err
	}
	if err := s.startPprof(ctx); err != nil {
		return err
	}
	if err := s.startConsole(ctx, admin, al); err != nil {
		return err
	}
	s.serve(ctx, "--grpc-listen", lis, func() error { return s.grpc.Serve(lis) })
	go func() {
		defer close(s.done)
		var background sync.WaitGroup
		background.Go(func() { disp.RunSweeper(ctx, time.Second) })
		background.Go(func() { s.runPruner(ctx, m.pruned) })
		background.Go(func() { s.refusals.Run(ctx) })
		background.Go(func() { al.run(ctx) })
		sched.Run(ctx)
		background.Wait()
	}()
	s.log.Info("controller ready", "grpc", lis.Addr().String(), "data_dir", s.o.DataDir)
	return nil
}

func (s *Server) startMetrics(ctx context.Context, m *metrics) error {
	if s.o.MetricsListen == "" {
		return nil
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.collectors()...)
	mux := http.NewServeMux()
	mux.Handle("/metrics", collect.MetricsHandler(reg, m.probes, s.log))
	lis, err := net.Listen("tcp", s.o.MetricsListen)
	if err != nil {
		return fmt.Errorf("--metrics-listen %s: %w", s.o.MetricsListen, err)
	}
	s.metricsAddr = lis.Addr().String()
	s.metricsLis = lis
	s.metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	s.serve(ctx, "--metrics-listen", lis, func() error { return s.metricsSrv.Serve(lis) })
	return nil
}

// serve runs a listener's Serve until Close. A Serve that returns before the controller stops
// (the listener broke) is a failure that stops the controller, named by the flag of its address.
func (s *Server) serve(ctx context.Context, flag string, lis net.Listener, serve func() error) {
	addr := lis.Addr().String()
	s.serving.Go(func() error {
		err := serve()
		if ctx.Err() != nil || errors.Is(err, http.ErrServerClosed) {
			return nil // stopped by Close
		}
		if err == nil {
			err = errors.New("it returned without an error")
		}
		return s.stoppedServing(fmt.Errorf("%s %s stopped serving: %w", flag, addr, err))
	})
}

// stoppedServing records err as the controller's failure, if it is the first, for Wait to return,
// and returns it for the errgroup, which then stops everything.
func (s *Server) stoppedServing(err error) error {
	s.failure.CompareAndSwap(nil, &err)
	return err
}

// Wait returns nil when ctx ends, or the error of a listener that stopped serving (gRPC,
// /metrics, pprof, the console), which also stops the controller's background work. Call Close
// after it either way; `serve` exits with the error.
func (s *Server) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case <-s.failed.Done():
	}
	// failed also ends when the context Start was given ends, with that context's cause: only a
	// listener's recorded failure is one.
	if err := s.failure.Load(); err != nil {
		return *err
	}
	return nil
}

// Addr is the gRPC address.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// MetricsAddr is the address /metrics is served on; empty without --metrics-listen.
func (s *Server) MetricsAddr() string { return s.metricsAddr }

// NATSURL is the URL agents are told to use.
func (s *Server) NATSURL() string { return s.natsURL }

// Close stops serving gracefully and closes the data file.
func (s *Server) Close() {
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	s.closeAll()
}

func (s *Server) closeAll() {
	if s.cancel != nil {
		s.cancel() // a start that failed half way has goroutines waiting on it
	}
	s.web.close()
	if s.grpc != nil {
		stopped := make(chan struct{})
		go func() { s.grpc.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			s.grpc.Stop()
		}
	}
	if s.lis != nil {
		_ = s.lis.Close() // GracefulStop closes it only once Serve has it (a start that failed later)
	}
	if s.traces != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.traces.Shutdown(ctx); err != nil {
			s.log.Warn("sending the last result traces", "err", err)
		}
		cancel()
	}
	if s.metricsSrv != nil {
		_ = s.metricsSrv.Close()
	}
	if s.pprofSrv != nil {
		_ = s.pprofSrv.Close()
	}
	if s.serving != nil {
		_ = s.serving.Wait() // every Serve has returned; a failure was Wait's to report
	}
	if s.nc != nil {
		_ = s.nc.Drain()
	}
	if s.embedded != nil {
		s.embedded.Shutdown()
	}
	if s.refusals != nil {
		s.refusals.Flush() // the refusals merged since the last interval, now that no call can come
	}
	if s.store != nil {
		_ = s.store.Close()
	}
}
