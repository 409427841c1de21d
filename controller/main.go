// Command lookout-controller runs the Lookout controller (serve), a whole local system (dev), and
// the admin subcommands that talk to a running controller.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/lookout-synthetics/lookout/controller/internal/cli"
	"github.com/lookout-synthetics/lookout/controller/internal/console"
	"github.com/lookout-synthetics/lookout/controller/internal/devenv"
	"github.com/lookout-synthetics/lookout/controller/internal/server"
	"github.com/lookout-synthetics/lookout/internal/buildinfo"
	"github.com/lookout-synthetics/lookout/internal/logging"
)

func main() {
	tuneGC(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

func exitCode(err error, stderr io.Writer) int {
	var usage *cli.UsageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0 // asked for: the flag package has printed it
	case errors.Is(err, cli.ErrRunFailed):
		return 1
	case errors.Is(err, cli.ErrStillRunning):
		fmt.Fprintf(stderr, "lookout-controller: %v\n", err)
		return 3 // not a failure of the run: it is not over
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "lookout-controller: %v\nRun 'lookout-controller help' for usage.\n", err)
		return 2
	}
	fmt.Fprintf(stderr, "lookout-controller: %v\n", err)
	return 1
}

func run(ctx context.Context, args []string, env cli.Env) error {
	if len(args) == 0 {
		usage(env.Stderr)
		return &cli.UsageError{Msg: "no command given"}
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], env)
	case "dev":
		return devenv.Main(ctx, args[1:], env)
	case "vault":
		if len(args) > 1 && args[1] == "rotate-master-key" {
			return rotateMasterKey(ctx, args[2:], env)
		}
	case "version", "--version":
		fmt.Fprintln(env.Stdout, buildinfo.Version)
		return nil
	case "help", "-h", "--help":
		usage(env.Stdout)
		return nil
	}
	cmd, rest, ok := cli.Find(args)
	if !ok {
		return cli.UnknownCommand(args, "serve", "dev", "help", "version", "vault rotate-master-key")
	}
	return cmd.Run(ctx, env, rest)
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `Usage: lookout-controller COMMAND [flags]

Daemons:
  serve                  run a controller (serve --help for its flags)
  dev                    run a whole local system: controller, embedded NATS, a public and a private
                         agent, a test API that demands client certificates, the example monitors

Offline (controller stopped):
  vault rotate-master-key --data-dir D --new-key-file F [--master-key-file OLD]
                         re-wrap the vault keyring under a new master key, in one transaction

Admin commands (reach a controller with --addr/LOOKOUT_ADDR, --token-file/LOOKOUT_TOKEN_FILE,
--ca-file/LOOKOUT_CA_FILE; -o json prints protobuf JSON):
`)
	for _, c := range cli.Commands() {
		fmt.Fprintf(w, "  %-22s %s\n", c.Name, c.Summary)
	}
}

func serve(ctx context.Context, args []string, env cli.Env) error {
	fs := flag.NewFlagSet("lookout-controller serve", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var o server.Options
	fs.StringVar(&o.DataDir, "data-dir", "", "directory for all state (required)")
	fs.StringVar(&o.GRPCListen, "grpc-listen", "127.0.0.1:7443", "gRPC address for agents, admin and collectors")
	fs.DurationVar(&o.AgentCertTTL, "agent-cert-lifetime", 30*24*time.Hour, "lifetime of agents' client certificates; agents renew them when a third is left")
	fs.IntVar(&o.RunAttempts, "run-attempts", 2, "how many times a run no agent picked up by its deadline is dispatched before it ends as \"checkpoint unavailable\"")
	fs.StringVar(&o.NATSListen, "nats-listen", "127.0.0.1:4222", "address of the embedded NATS server")
	fs.StringVar(&o.NATSURL, "nats-url", "", "use this NATS deployment instead of the embedded server")
	fs.StringVar(&o.NATSAdvertiseURL, "nats-advertise-url", "", "NATS URL handed to agents at enrollment (default: the server's own)")
	sans := fs.String("tls-san", "", "extra comma-separated host names/IPs for the controller's certificate")
	fs.StringVar(&o.PlatformCertFile, "platform-cert-file", "", "PKCS#12 archive of the platform certificate")
	fs.StringVar(&o.PlatformCertPasswordFile, "platform-cert-password-file", "", "file holding its password")
	fs.StringVar(&o.MasterKeyFile, "master-key-file", "", "32-byte key-encryption key, mode 0600 (default: <data-dir>/master.key, created)")
	fs.StringVar(&o.MetricsListen, "metrics-listen", "", "address for /metrics (Prometheus)")
	fs.StringVar(&o.HTTPListen, "http-listen", "", "serve the web console at this address (off by default; plain HTTP only on loopback)")
	fs.StringVar(&o.HTTPCertFile, "http-cert-file", "", "PEM certificate chain for the web console (required when --http-listen is not loopback)")
	fs.StringVar(&o.HTTPKeyFile, "http-key-file", "", "PEM private key for --http-cert-file")
	fs.StringVar(&o.OTLPEndpoint, "otlp-endpoint", "", "HOST:PORT of an OTLP gRPC receiver: each result is exported as a trace")
	fs.BoolVar(&o.OTLPInsecure, "otlp-insecure", false, "talk plain gRPC to the OTLP receiver (TLS by default)")
	fs.StringVar(&o.PprofListen, "pprof-listen", "", "address for Go's /debug/pprof (off by default; no authentication, keep it on loopback)")
	fs.DurationVar(&o.Retention.Runs, "retention", 30*24*time.Hour, "how long finished runs and their results are kept after the result is stored; 0 keeps them forever")
	fs.DurationVar(&o.Retention.Audit, "audit-retention", 90*24*time.Hour, "how long audit log entries are kept; 0 keeps them forever")
	fs.DurationVar(&o.Retention.Rollups, "rollup-retention", 400*24*time.Hour, "how long hourly rollups (uptime, durations) are kept; 0 keeps them forever")
	fs.DurationVar(&o.Retention.Alerts, "alert-retention", 400*24*time.Hour, "how long resolved alerts and their notifications are kept after they resolved (an open alert is always kept); 0 keeps them forever")
	logFormat := fs.String("log-format", "text", "text or json")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	for _, r := range []struct {
		flag string
		d    time.Duration
	}{{"--retention", o.Retention.Runs}, {"--audit-retention", o.Retention.Audit}, {"--rollup-retention", o.Retention.Rollups}, {"--alert-retention", o.Retention.Alerts}} {
		if r.d < 0 || (r.d > 0 && r.d < time.Second) {
			return &cli.UsageError{Msg: fmt.Sprintf("serve: %s must be 0 (keep forever) or at least 1s, got %v", r.flag, r.d)}
		}
	}
	if o.DataDir == "" {
		return &cli.UsageError{Msg: "serve: --data-dir is required"}
	}
	if o.RunAttempts < 1 || o.RunAttempts > 10 {
		return &cli.UsageError{Msg: fmt.Sprintf("serve: --run-attempts must be between 1 and 10, got %d", o.RunAttempts)}
	}
	if o.AgentCertTTL < 10*time.Second || o.AgentCertTTL > 365*24*time.Hour {
		return &cli.UsageError{Msg: fmt.Sprintf("serve: --agent-cert-lifetime must be between 10s and 8760h (a year), got %v", o.AgentCertTTL)}
	}
	if err := checkConsoleFlags(o); err != nil {
		return err
	}
	if *sans != "" {
		o.Hosts = strings.Split(*sans, ",")
	}
	log, err := logging.New(env.Stderr, *logFormat, *logLevel)
	if err != nil {
		return err
	}
	o.Logger = log
	srv, err := server.Start(ctx, o)
	if err != nil {
		return err
	}
	failed := srv.Wait(ctx)
	if failed != nil {
		log.Error("a listener stopped serving; shutting down", "err", failed)
	} else {
		log.Info("shutting down")
	}
	done := make(chan struct{})
	go func() { srv.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		return errors.Join(failed, errors.New("shutdown took longer than 15s"))
	}
	return failed
}

// checkConsoleFlags refuses console flags that cannot work before anything starts.
func checkConsoleFlags(o server.Options) error {
	if o.HTTPListen == "" {
		if o.HTTPCertFile != "" || o.HTTPKeyFile != "" {
			return &cli.UsageError{Msg: "serve: --http-cert-file and --http-key-file need --http-listen (the web console's address)"}
		}
		return nil
	}
	if err := console.CheckListen(console.ListenOptions{Addr: o.HTTPListen, CertFile: o.HTTPCertFile, KeyFile: o.HTTPKeyFile}); err != nil {
		return &cli.UsageError{Msg: "serve: " + err.Error()}
	}
	return nil
}
