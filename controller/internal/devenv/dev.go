package devenv

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/lookout-synthetics/lookout/controller/internal/cli"
	"github.com/lookout-synthetics/lookout/controller/internal/monitorfile"
	"github.com/lookout-synthetics/lookout/controller/internal/server"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

type options struct {
	duration time.Duration
	examples string
	agentBin string
	dataDir  string
	verbose  bool
}

// Main runs `lookout-controller dev`.
func Main(ctx context.Context, args []string, env cli.Env) error {
	o, err := parseFlags(args, env.Stderr)
	if err != nil {
		return err
	}
	// A plain cancel after the duration, not a context deadline: a deadline travels to the
	// controller with the results stream, and the server's copy can fire first, ending the stream
	// with an error before this side sees its own context end.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d := &dev{o: o, env: env}
	defer d.cleanup()
	if err := d.start(ctx); err != nil {
		return err
	}
	if o.duration > 0 {
		// Counted from when the demo is up, not from the start: on a loaded machine starting the
		// controller and enrolling the agents can take most of a short duration.
		stop := time.AfterFunc(o.duration, cancel)
		defer stop.Stop()
	}
	// A listener of the controller that stops serving ends the demo with its error, as it ends
	// `serve`, instead of leaving a demo that no longer answers.
	failed := make(chan error, 1)
	go func() {
		if err := d.srv.Wait(ctx); err != nil {
			failed <- err
			cancel()
		}
	}()
	err = d.stream(ctx)
	select {
	case ferr := <-failed:
		return ferr
	default:
		return err
	}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("lookout-controller dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.duration, "duration", 0, "stop this long after the demo is up (default: run until Ctrl-C)")
	fs.StringVar(&o.examples, "examples", "deploy/examples", "folder of monitor files to apply")
	fs.StringVar(&o.agentBin, "agent-bin", "", "lookout-agent binary (default: next to this binary, then $PATH)")
	fs.StringVar(&o.dataDir, "data-dir", "", "data dir (default: a new temporary one, removed on exit)")
	fs.BoolVar(&o.verbose, "v", false, "print every step of every result, and the controller's log")
	if err := cli.ParseFlags(fs, args); err != nil {
		return o, err
	}
	return o, nil
}

type dev struct {
	o       options
	env     cli.Env
	tmp     string
	httpLog *log.Logger // the demo API's and the webhook receiver's own lines (demo-api.log)
	srv     *server.Server
	cleanFn []func()
	agents  []*exec.Cmd // stopped together, before the controller (see stopAgents)
}

func (d *dev) cleanup() {
	for i := len(d.cleanFn) - 1; i >= 0; i-- {
		d.cleanFn[i]()
	}
}

func (d *dev) say(format string, a ...any) { fmt.Fprintf(d.env.Stdout, format+"\n", a...) }

func (d *dev) start(ctx context.Context) error {
	agentBin, err := findAgent(d.o.agentBin)
	if err != nil {
		return err
	}
	dir := d.o.dataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "lookout-dev-"); err != nil {
			return err
		}
		d.cleanFn = append(d.cleanFn, func() { os.RemoveAll(dir) })
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating --data-dir: %w", err)
	}
	d.tmp = dir
	if err := d.openHTTPLog(); err != nil {
		return err
	}
	p, err := newDemoPKI()
	if err != nil {
		return err
	}
	platformFile, platformPw, err := d.writePlatform(p)
	if err != nil {
		return err
	}
	apiPassword := randomHex(12)
	api := &demoAPI{user: "lookout", password: apiPassword, tokens: map[string]time.Time{}, started: time.Now()}
	apiSrv, base, err := serveDemoAPI(p, api, d.httpLog)
	if err != nil {
		return err
	}
	d.cleanFn = append(d.cleanFn, func() { apiSrv.Close() })
	d.say("demo API (demands a client certificate) at %s, its log in %s", base, filepath.Join(d.tmp, "demo-api.log"))

	if err := d.startController(ctx, platformFile, platformPw); err != nil {
		return err
	}
	admin, alerts, closeAdmin, err := d.adminClient()
	if err != nil {
		return err
	}
	defer closeAdmin()
	// Agents first, monitors last: a run scheduled before its checkpoint has an agent online
	// would only end as "checkpoint unavailable", which is not what a first look should show.
	if err := d.seedVault(ctx, admin, p, apiPassword); err != nil {
		return err
	}
	if err := d.startAgents(ctx, admin, agentBin, p); err != nil {
		return err
	}
	// While the agents enroll: the channels the example monitors notify.
	if err := d.applyChannels(ctx, admin, alerts); err != nil {
		return err
	}
	if err := d.waitOnline(ctx, admin); err != nil {
		return err
	}
	return d.applyExamples(ctx, admin, base)
}

// demoCheckpoints are the checkpoints the demo creates, one of each kind.
var demoCheckpoints = []struct {
	name string
	kind pb.CheckpointKind
}{{"public-1", pb.CheckpointKind_CHECKPOINT_KIND_PUBLIC}, {"private-1", pb.CheckpointKind_CHECKPOINT_KIND_PRIVATE}}

// waitOnline waits until every demo checkpoint has an online agent, or says which did not come up.
func (d *dev) waitOnline(ctx context.Context, admin pb.AdminServiceClient) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		missing := map[string]bool{}
		for _, cp := range demoCheckpoints {
			missing[cp.name] = true
		}
		if resp, err := admin.ListCheckpoints(ctx, &pb.ListCheckpointsRequest{}); err == nil {
			for _, cp := range resp.GetCheckpoints() {
				for _, a := range cp.GetAgents() {
					if a.GetOnline() && !a.GetRevoked() {
						delete(missing, cp.GetName())
					}
				}
			}
		}
		if len(missing) == 0 {
			d.say("agents online")
			return nil
		}
		select {
		case <-ctx.Done():
			names := make([]string, 0, len(missing))
			for n := range missing {
				names = append(names, n)
			}
			sort.Strings(names)
			return fmt.Errorf("no agent came online for checkpoint(s) %s within 30s; see agent-*.log in %s", strings.Join(names, ", "), d.tmp)
		case <-tick.C:
		}
	}
}

// openHTTPLog opens demo-api.log for the lines net/http writes about the demo's own servers, which
// would otherwise land on stderr in the middle of the result stream.
func (d *dev) openHTTPLog() error {
	f, err := os.Create(filepath.Join(d.tmp, "demo-api.log"))
	if err != nil {
		return err
	}
	d.cleanFn = append(d.cleanFn, func() { f.Close() })
	d.httpLog = log.New(f, "", log.LstdFlags)
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never returns an error (Go 1.24+)
	return hex.EncodeToString(b)
}

func findAgent(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if self, err := os.Executable(); err == nil {
		cand := filepath.Join(filepath.Dir(self), "lookout-agent")
		if _, err := os.Stat(cand); err == nil {
			return cand, nil
		}
	}
	if p, err := exec.LookPath("lookout-agent"); err == nil {
		return p, nil
	}
	return "", errors.New("lookout-agent binary not found next to lookout-controller or on $PATH: run `make build` (or pass --agent-bin)")
}

func (d *dev) writePlatform(p *demoPKI) (string, string, error) {
	pw := randomHex(12)
	archive, err := p.clientArchive("Lookout platform (demo)", pw)
	if err != nil {
		return "", "", err
	}
	file, pwFile := filepath.Join(d.tmp, "platform.p12"), filepath.Join(d.tmp, "platform.password")
	if err := os.WriteFile(file, archive, 0o600); err != nil {
		return "", "", err
	}
	return file, pwFile, os.WriteFile(pwFile, []byte(pw), 0o600)
}

func (d *dev) startController(ctx context.Context, platformFile, platformPw string) error {
	logW := io.Discard
	if d.o.verbose {
		logW = d.env.Stderr
	}
	logFile, err := os.Create(filepath.Join(d.tmp, "controller.log"))
	if err != nil {
		return err
	}
	d.cleanFn = append(d.cleanFn, func() { logFile.Close() })
	log := slog.New(slog.NewTextHandler(io.MultiWriter(logFile, logW), nil))
	d.srv, err = server.Start(ctx, server.Options{DataDir: filepath.Join(d.tmp, "controller"), GRPCListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0", MetricsListen: "127.0.0.1:0",
		PlatformCertFile: platformFile, PlatformCertPasswordFile: platformPw, Logger: log, RunGrace: 5 * time.Second, HTTPListen: "127.0.0.1:0"})
	if err != nil {
		return fmt.Errorf("starting the controller: %w", err)
	}
	d.cleanFn = append(d.cleanFn, d.srv.Close)
	d.say("controller on %s, embedded NATS on %s, data in %s", d.srv.Addr(), d.srv.NATSURL(), d.tmp)
	d.say("controller metrics at http://%s/metrics", d.srv.MetricsAddr())
	d.say("\nIn another terminal, to use the admin commands against it:\n  export LOOKOUT_ADDR=%s LOOKOUT_TOKEN_FILE=%s LOOKOUT_CA_FILE=%s\n  bin/lookout-controller checkpoint list\n",
		d.srv.Addr(), d.srv.TokenFile, d.srv.CAFile)
	d.say("Web console: %s (sign in with the token in %s)\n", d.srv.ConsoleURL(), d.srv.TokenFile)
	return nil
}

type adminCreds struct{ token string }

func (a adminCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + a.token}, nil
}
func (adminCreds) RequireTransportSecurity() bool { return true }

func (d *dev) adminClient() (pb.AdminServiceClient, pb.AlertServiceClient, func(), error) {
	tok, err := os.ReadFile(d.srv.TokenFile)
	if err != nil {
		return nil, nil, nil, err
	}
	caPEM, err := os.ReadFile(d.srv.CAFile)
	if err != nil {
		return nil, nil, nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cc, err := grpc.NewClient(d.srv.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool})),
		grpc.WithPerRPCCredentials(adminCreds{strings.TrimSpace(string(tok))}))
	if err != nil {
		return nil, nil, nil, err
	}
	return pb.NewAdminServiceClient(cc), pb.NewAlertServiceClient(cc), func() { cc.Close() }, nil
}

// seedVault stores the demo customer's certificate and the demo API's credentials.
func (d *dev) seedVault(ctx context.Context, admin pb.AdminServiceClient, p *demoPKI, apiPassword string) error {
	pw := randomHex(8)
	archive, err := p.clientArchive("partner-client (demo customer)", pw)
	if err != nil {
		return err
	}
	if _, err := admin.AddCertificate(ctx, &pb.AddCertificateRequest{Name: "partner-cert", Description: "demo customer certificate", Archive: archive, Password: pw}); err != nil {
		return fmt.Errorf("adding the demo certificate: %w", err)
	}
	if _, err := admin.AddCredentials(ctx, &pb.AddCredentialsRequest{Name: "api-user", Username: "lookout", Password: apiPassword}); err != nil {
		return fmt.Errorf("adding the demo credentials: %w", err)
	}
	d.say("vault: partner-cert (client certificate), api-user (credentials)")
	return nil
}

func (d *dev) applyExamples(ctx context.Context, admin pb.AdminServiceClient, base string) error {
	files, err := filepath.Glob(filepath.Join(d.o.examples, "*.yaml"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no monitor files in %s (run from the repository root, or pass --examples)", d.o.examples)
	}
	sort.Strings(files)
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		m, err := monitorfile.Parse(src)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if _, ok := m.Variables["base"]; ok {
			m.Variables["base"] = base
		}
		out, err := monitorfile.Format(m)
		if err != nil {
			return err
		}
		if _, err := admin.ApplyMonitor(ctx, &pb.ApplyMonitorRequest{Source: out, Filename: f}); err != nil {
			return fmt.Errorf("applying %s: %w", f, err)
		}
		d.say("monitor %s from %s (checkpoints %s)", m.Name, f, strings.Join(m.Checkpoints, ", "))
	}
	return nil
}

func (d *dev) startAgents(ctx context.Context, admin pb.AdminServiceClient, bin string, p *demoPKI) error {
	targetCA := filepath.Join(d.tmp, "demo-api-ca.pem")
	if err := os.WriteFile(targetCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.ca.Raw}), 0o644); err != nil {
		return err
	}
	for _, cp := range demoCheckpoints {
		resp, err := admin.CreateEnrollmentToken(ctx, &pb.CreateEnrollmentTokenRequest{CheckpointName: cp.name, Kind: cp.kind})
		if err != nil {
			return err
		}
		if err := d.startAgent(ctx, bin, cp.name, resp.Token, targetCA); err != nil {
			return err
		}
	}
	return nil
}

func (d *dev) startAgent(ctx context.Context, bin, name, token, targetCA string) error {
	dir := filepath.Join(d.tmp, "agent-"+name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tokFile := filepath.Join(dir, "enroll.token")
	if err := os.WriteFile(tokFile, []byte(token), 0o600); err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(d.tmp, "agent-"+name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "--controller", d.srv.Addr(), "--token-file", tokFile, "--state-dir", filepath.Join(dir, "state"),
		"--ca-file", d.srv.CAFile, "--target-ca-file", targetCA, "--instance-name", name)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = dieWithParent()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting agent %s: %w", name, err)
	}
	if len(d.agents) == 0 {
		d.cleanFn = append(d.cleanFn, d.stopAgents)
	}
	d.agents = append(d.agents, cmd)
	d.cleanFn = append(d.cleanFn, func() { logFile.Close() })
	d.say("agent for checkpoint %s started (pid %d, log %s)", name, cmd.Process.Pid, logFile.Name())
	return nil
}

// stopAgents asks every agent to stop at once and waits up to 10s in all before killing the ones
// still running. One at a time, agents finishing their runs in flight could take 10s each, and a
// supervisor that stops dev after its own 10s (a test, systemd) would kill dev and leave the
// last ones running.
func (d *dev) stopAgents() {
	var wg sync.WaitGroup
	for _, cmd := range d.agents {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		wg.Go(func() {
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		})
	}
	wg.Wait()
}

// stream prints results until ctx ends.
func (d *dev) stream(ctx context.Context) error {
	d.say("\nresults (Ctrl-C to stop):")
	env := d.env
	args := []string{"--addr", d.srv.Addr(), "--token-file", d.srv.TokenFile, "--ca-file", d.srv.CAFile}
	if d.o.verbose {
		args = append(args, "-v")
	}
	if d.o.dataDir == "" {
		// A new data dir holds only this demo's results: show them all. The first runs go out as
		// the monitors are applied, and a quick one can finish before the stream would begin.
		args = append(args, "--from-start")
	}
	cmd, rest, _ := cli.Find(append([]string{"results", "tail"}, args...))
	err := cmd.Run(ctx, env, rest)
	if ctx.Err() != nil {
		d.say("\nstopping")
		return nil
	}
	return err
}
