// Command lookout-agent runs a Lookout checkpoint agent.
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lookout-synthetics/lookout/agent/internal/checkpoint"
	"github.com/lookout-synthetics/lookout/agent/internal/identity"
	"github.com/lookout-synthetics/lookout/agent/internal/runner"
	"github.com/lookout-synthetics/lookout/agent/internal/spool"
	"github.com/lookout-synthetics/lookout/internal/buildinfo"
	"github.com/lookout-synthetics/lookout/internal/logging"
	"github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "lookout-agent: %v\n", err)
		if errors.Is(err, checkpoint.ErrRevoked) {
			os.Exit(exitRevoked)
		}
		os.Exit(1)
	}
}

// exitRevoked is the exit status of an agent the controller revoked, so that a supervisor can tell
// it from a crash and not restart it in a loop.
const exitRevoked = 3

// maxConcurrentLimit bounds --max-concurrent-runs: each run in flight holds a goroutine, buffers and
// often a connection (about 0.1-0.2 MiB each, docs/benchmarks.md).
const maxConcurrentLimit = 10000

type config struct {
	controller, tokenFile, stateDir, caFile, targetCAFile, metricsListen, instance, logFormat, logLevel string
	version                                                                                             bool
	heartbeat                                                                                           time.Duration
	maxConcurrent                                                                                       int
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("lookout-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	host, _ := os.Hostname()
	fs.StringVar(&c.controller, "controller", "", "controller gRPC address host:port (required on first start)")
	fs.StringVar(&c.tokenFile, "token-file", "", "enrollment token file (first start only)")
	fs.StringVar(&c.stateDir, "state-dir", "", "directory for the agent's identity (required)")
	fs.StringVar(&c.caFile, "ca-file", "", "controller CA certificate (first start only)")
	fs.StringVar(&c.targetCAFile, "target-ca-file", "", "extra CA certificates (PEM) to trust for monitored APIs, besides the system's")
	fs.StringVar(&c.metricsListen, "metrics-listen", "", "address for /metrics (Prometheus)")
	fs.StringVar(&c.instance, "instance-name", host, "name of this instance, shown by the controller's checkpoint list")
	fs.StringVar(&c.logFormat, "log-format", "text", "text or json")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&c.version, "version", false, "print the version and exit")
	fs.DurationVar(&c.heartbeat, "heartbeat", 10*time.Second, "how often to tell the controller this instance is alive (and learn which cached secrets to drop)")
	fs.IntVar(&c.maxConcurrent, "max-concurrent-runs", 64, "most runs executing at once; more wait for a free slot (and the agent reports itself saturated)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.maxConcurrent < 1 || c.maxConcurrent > maxConcurrentLimit {
		return c, fmt.Errorf("--max-concurrent-runs %d: use a value from 1 to %d", c.maxConcurrent, maxConcurrentLimit)
	}
	if c.heartbeat < time.Second || c.heartbeat > 20*time.Second {
		// The controller shows an instance offline after 30 s without a heartbeat.
		return c, fmt.Errorf("--heartbeat %v: use a value from 1s to 20s", c.heartbeat)
	}
	if err := lookoutv1.CheckAgentText("--instance-name", c.instance, lookoutv1.MaxInstanceNameLength); err != nil {
		return c, fmt.Errorf("%w (the controller accepts no other)", err)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if c.version {
		fmt.Fprintln(stdout, buildinfo.Version)
		return nil
	}
	if c.stateDir == "" {
		return errors.New("--state-dir is required")
	}
	log, err := logging.New(stderr, c.logFormat, c.logLevel)
	if err != nil {
		return err
	}
	id, err := loadOrEnroll(ctx, c, log)
	if err != nil {
		return err
	}
	if c.controller != "" {
		id.Controller = c.controller
	}
	if err := serveMetrics(c.metricsListen); err != nil {
		return err
	}
	roots, err := targetRoots(c.targetCAFile)
	if err != nil {
		return err
	}
	sp, err := spool.Open(filepath.Join(c.stateDir, "spool.db"), spool.Limits{})
	if err != nil {
		return err
	}
	defer sp.Close()
	if n := sp.Len(); n > 0 {
		log.Info("replaying results spooled before the restart", "results", n)
	}
	prometheus.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "lookout_agent_spool_dropped_total", Help: "Results dropped because the result spool was full."},
			func() float64 { return float64(sp.Dropped()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "lookout_agent_spool_results", Help: "Results waiting in the spool for the controller."},
			func() float64 { return float64(sp.Len()) }),
	)
	a, err := checkpoint.New(checkpoint.Options{Identity: id, Version: buildinfo.Version, Logger: log, Runner: runner.Options{RootCAs: roots}, Spool: sp, Heartbeat: c.heartbeat,
		MaxConcurrent: c.maxConcurrent})
	if err != nil {
		return err
	}
	prometheus.MustRegister(slotCollectors(a)...)
	prometheus.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "lookout_agent_secret_cache_items", Help: "Vault items (by version) held in memory for runs."},
			func() float64 { return float64(a.CacheStats().Items) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "lookout_agent_secret_cache_hits_total", Help: "Secrets a run needed that the agent already held, so the controller sent nothing."},
			func() float64 { return float64(a.CacheStats().Hits) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "lookout_agent_secret_cache_misses_total", Help: "Secrets a run needed that the controller had to send."},
			func() float64 { return float64(a.CacheStats().Misses) }),
	)
	return a.Run(ctx)
}

func loadOrEnroll(ctx context.Context, c config, log *slog.Logger) (*identity.Identity, error) {
	id, err := identity.Load(c.stateDir)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if c.controller == "" || c.tokenFile == "" || c.caFile == "" {
		return nil, fmt.Errorf("%s holds no identity yet: to enroll, pass --controller, --token-file and --ca-file", c.stateDir)
	}
	tok, err := os.ReadFile(c.tokenFile)
	if err != nil {
		return nil, fmt.Errorf("reading --token-file: %w", err)
	}
	caPEM, err := os.ReadFile(c.caFile)
	if err != nil {
		return nil, fmt.Errorf("reading --ca-file: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	id, err = identity.Enroll(ctx, identity.EnrollOptions{Controller: c.controller, Token: strings.TrimSpace(string(tok)), CAPEM: caPEM,
		StateDir: c.stateDir, InstanceName: c.instance, Version: buildinfo.Version})
	if err != nil {
		return nil, err
	}
	log.Info("enrolled", "agent", id.AgentID, "checkpoint", id.CheckpointName, "kind", id.Kind)
	return id, nil
}

// targetRoots is the system pool plus the PEM certificates in file (nil: the system pool alone).
func targetRoots(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	pemBytes, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading --target-ca-file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("--target-ca-file %s holds no PEM certificate", file)
	}
	return pool, nil
}

func serveMetrics(addr string) error {
	if addr == "" {
		return nil
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--metrics-listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.Handler())
	go func() { _ = (&http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}).Serve(lis) }()
	return nil
}

// slotCollectors are the run-slot metrics: how busy the agent is against --max-concurrent-runs, and
// whether runs had to wait for a slot (the agent is saturated and runs start late).
func slotCollectors(a *checkpoint.Agent) []prometheus.Collector {
	gauge := func(name, help string, f func(checkpoint.SlotStats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(a.SlotStats()) })
	}
	counter := func(name, help string, f func(checkpoint.SlotStats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return f(a.SlotStats()) })
	}
	return []prometheus.Collector{
		gauge("lookout_agent_max_concurrent_runs", "The agent's --max-concurrent-runs.", func(s checkpoint.SlotStats) float64 { return float64(s.Max) }),
		gauge("lookout_agent_runs_in_flight", "Runs executing now.", func(s checkpoint.SlotStats) float64 { return float64(s.InFlight) }),
		gauge("lookout_agent_runs_waiting", "Runs received and waiting for a free run slot (the agent is saturated).",
			func(s checkpoint.SlotStats) float64 { return float64(s.Waiting) }),
		counter("lookout_agent_runs_delayed_total", "Runs that found every run slot busy and waited for one.",
			func(s checkpoint.SlotStats) float64 { return float64(s.Delayed) }),
		counter("lookout_agent_runs_expired_waiting_total", "Runs whose deadline passed while they waited for a run slot; they were not run.",
			func(s checkpoint.SlotStats) float64 { return float64(s.Expired) }),
		counter("lookout_agent_run_slot_wait_seconds_total", "Time runs spent waiting for a free run slot.",
			func(s checkpoint.SlotStats) float64 { return s.Waited.Seconds() }),
	}
}
