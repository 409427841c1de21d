package ctl

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Options size the run. Zero values take the defaults that keep `make bench` near three minutes.
type Options struct {
	Rounds      int           // repetitions of each measured phase (median and spread); default 3
	Checkpoints int           // public checkpoints; default 16
	Instances   int           // simulated agent instances per checkpoint (one queue group); default 1
	Workers     int           // concurrent answers per simulated agent; default 32
	Offered     int           // runs/s the scheduler offers in the throughput phase; default 12000
	Saturate    time.Duration // length of one throughput window; default 3s
	Paced       time.Duration // length of one fixed-rate latency window; default 5s
	PacedRate   int           // runs/s offered in the latency phase; default 2000
	LowRate     int           // runs/s of a second latency phase, below saturation; default 500
	ScaleRate   int           // runs/s offered in the scale-curve phases; default 1000
	ScaleFor    time.Duration // length of one scale-curve phase; default 2s
	Log         io.Writer     // progress; nil = none
	Sizes       []int         // monitor counts of the scale curve; default 100, 1000, 10000 (the last one is the RSS figure)
	ProfileDir  string        // when set, profiles and traces of the controller are written here (see profile)
	LatencyDir  string        // when set, every latency phase's runs are written here, one line each (writeLatencies)
}

func (o *Options) defaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if len(o.Sizes) == 0 {
		o.Sizes = []int{100, 1000, 10000}
	}
	def(&o.Rounds, 3)
	def(&o.Checkpoints, 16)
	def(&o.Instances, 1)
	def(&o.Workers, 32)
	def(&o.Offered, 12000)
	def(&o.PacedRate, 2000)
	def(&o.LowRate, 500)
	def(&o.ScaleRate, 1000)
	defd(&o.Saturate, 3*time.Second)
	defd(&o.Paced, 5*time.Second)
	defd(&o.ScaleFor, 2*time.Second)
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// bench is one run of the harness: the controller process, the admin client, the simulated fleet.
type bench struct {
	o        Options
	dir      string
	ctlBin   string
	agentBin string
	ctl      *proc
	addr     string
	caPool   *x509.CertPool
	caFile   string
	admin    pb.AdminServiceClient
	adminCC  *grpc.ClientConn
	token    string
	sims     []*simAgent
	rec      atomic.Pointer[recorder]
	monitors int // monitors applied so far, named m-00000 …
	pprof    string
	metrics  string  // the controller's Prometheus endpoint, host:port
	heavy    loadSet // throughput: every monitor on every checkpoint
	typical  loadSet // latency: every monitor on a few checkpoints
}

// Run builds the binaries, starts the controller and the simulated fleet, measures every figure and
// writes the table and key=value lines to w.
func Run(ctx context.Context, w io.Writer, o Options) (err error) {
	o.defaults()
	b := &bench{o: o}
	if b.dir, err = os.MkdirTemp("", "lookout-ctlbench-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.dir)
	fmt.Fprintln(o.Log, "building binaries …")
	if b.ctlBin, b.agentBin, err = buildBinaries(ctx, b.dir); err != nil {
		return err
	}
	defer b.close()
	if err := b.startController(ctx); err != nil {
		return err
	}
	res := &results{}
	if err := b.measure(ctx, res); err != nil {
		return err
	}
	res.write(w)
	return nil
}

func (b *bench) startController(ctx context.Context) error {
	data := filepath.Join(b.dir, "data")
	var err error
	if b.metrics, err = freeAddr(); err != nil {
		return err
	}
	b.ctl, err = startProc(b.ctlBin, "serve", "--data-dir", data, "--grpc-listen", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0",
		"--log-format", "json", "--log-level", "info", "--pprof-listen", "127.0.0.1:0", "--metrics-listen", b.metrics)
	if err != nil {
		return err
	}
	if b.addr, err = b.ctl.waitFor("controller ready", 60*time.Second, readyAddr); err != nil {
		return err
	}
	if b.pprof, err = b.ctl.waitFor("pprof ready", 10*time.Second, logAttr("pprof ready", "addr")); err != nil {
		return err
	}
	b.caFile = filepath.Join(data, "ca.pem")
	caPEM, err := os.ReadFile(b.caFile)
	if err != nil {
		return err
	}
	b.caPool = x509.NewCertPool()
	b.caPool.AppendCertsFromPEM(caPEM)
	tok, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		return err
	}
	b.token = strings.TrimSpace(string(tok))
	b.adminCC, err = grpc.NewClient(b.addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: b.caPool, MinVersion: tls.VersionTLS12})))
	if err != nil {
		return err
	}
	b.admin = pb.NewAdminServiceClient(b.adminCC)
	b.rec.Store(&recorder{})
	return nil
}

func (b *bench) adminCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+b.token)
	return context.WithTimeout(ctx, 30*time.Second)
}

func (b *bench) close() {
	for _, s := range b.sims {
		s.close()
	}
	if b.adminCC != nil {
		b.adminCC.Close()
	}
	if b.ctl != nil {
		b.ctl.stop()
	}
}

// enrollFleet creates a token per instance and enrolls the simulated agents.
func (b *bench) enrollFleet(ctx context.Context) error {
	for c := range b.o.Checkpoints {
		for i := range b.o.Instances {
			tok, err := b.newToken(ctx, cpName(c))
			if err != nil {
				return err
			}
			s, err := enrollSim(ctx, b.addr, b.caPool, tok, fmt.Sprintf("%s-%d", cpName(c), i), b.o.Workers, &b.rec)
			if err != nil {
				return err
			}
			b.sims = append(b.sims, s)
		}
	}
	return nil
}

func (b *bench) newToken(ctx context.Context, cp string) (string, error) {
	actx, cancel := b.adminCtx(ctx)
	defer cancel()
	resp, err := b.admin.CreateEnrollmentToken(actx, &pb.CreateEnrollmentTokenRequest{CheckpointName: cp, Kind: pb.CheckpointKind_CHECKPOINT_KIND_PUBLIC})
	if err != nil {
		return "", fmt.Errorf("creating a token for %s: %w", cp, err)
	}
	return resp.Token, nil
}

func cpName(i int) string { return fmt.Sprintf("bench-%d", i) }

func monitorName(i int) string { return fmt.Sprintf("m-%05d", i) }

// monitorFile is a one-step monitor on one checkpoint. Its interval is long, so the scheduler runs
// it once when it is applied and not again during the run: the scale curve's load is the harness's
// TriggerRun calls.
func monitorFile(i, checkpoints int) []byte {
	return fmt.Appendf(nil, `name: %s
interval: 24h
timeout: 30s
checkpoints: [%s]
steps:
  - name: get
    request:
      url: "http://127.0.0.1:9/never-called"
    assert:
      - {source: status, comparison: equal, value: "200"}
`, monitorName(i), cpName(i%checkpoints))
}

// loadInterval is the load monitors' interval, the shortest a monitor may have.
const loadInterval = 10 * time.Second

// loadSet is a family of one-step load monitors at loadInterval, applied paused; a phase resumes
// the first n of them, so the scheduler offers n × per runs per interval, spread over it by their
// slots. The throughput set runs each monitor on every checkpoint (fewest monitors to apply); the
// latency set runs each on 4 of them, rotating, the shape of a typical fleet: a monitor's runs
// are dispatched together, so the checkpoints per monitor are the size of the bursts the
// controller and the agents see.
type loadSet struct {
	prefix string
	per    int // checkpoints per monitor
}

func (l loadSet) name(i int) string { return fmt.Sprintf("%s-%05d", l.prefix, i) }

func (l loadSet) file(i, checkpoints int) []byte {
	cps := make([]string, l.per)
	for k := range cps {
		cps[k] = cpName((i*l.per + k) % checkpoints)
	}
	return fmt.Appendf(nil, `name: %s
interval: %s
timeout: 5s
checkpoints: [%s]
steps:
  - name: get
    request:
      url: "http://127.0.0.1:9/never-called"
`, l.name(i), loadInterval, strings.Join(cps, ", "))
}

// monitors is how many of the set offer rate runs/s.
func (l loadSet) monitors(rate int) int {
	return int(math.Round(float64(rate) * loadInterval.Seconds() / float64(l.per)))
}

// applyMonitors applies scale-curve monitors until n exist.
func (b *bench) applyMonitors(ctx context.Context, n int) error {
	if n <= b.monitors {
		return nil
	}
	err := b.each(ctx, b.monitors, n, func(actx context.Context, i int) error {
		_, err := b.admin.ApplyMonitor(actx, &pb.ApplyMonitorRequest{Source: monitorFile(i, b.o.Checkpoints), Filename: monitorName(i)})
		if err != nil {
			return fmt.Errorf("applying %s: %w", monitorName(i), err)
		}
		return nil
	})
	if err == nil {
		b.monitors = n
	}
	return err
}

// applyLoad applies the first n monitors of set, paused.
func (b *bench) applyLoad(ctx context.Context, set loadSet, n int) error {
	return b.each(ctx, 0, n, func(actx context.Context, i int) error {
		_, err := b.admin.ApplyMonitor(actx, &pb.ApplyMonitorRequest{Source: set.file(i, b.o.Checkpoints), Filename: set.name(i), Paused: true})
		if err != nil {
			return fmt.Errorf("applying %s: %w", set.name(i), err)
		}
		return nil
	})
}

// setLoadPaused pauses or resumes the first n monitors of set.
func (b *bench) setLoadPaused(ctx context.Context, set loadSet, n int, paused bool) error {
	return b.each(ctx, 0, n, func(actx context.Context, i int) error {
		if _, err := b.admin.SetMonitorPaused(actx, &pb.SetMonitorPausedRequest{Name: set.name(i), Paused: paused}); err != nil {
			return fmt.Errorf("pausing or resuming %s: %w", set.name(i), err)
		}
		return nil
	})
}

// each calls fn for every i in [from, to) from 16 concurrent admin callers, and returns the first
// error.
func (b *bench) each(ctx context.Context, from, to int, fn func(ctx context.Context, i int) error) error {
	var next atomic.Int64
	next.Store(int64(from))
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= to {
					return
				}
				actx, cancel := b.adminCtx(ctx)
				err := fn(actx, i)
				cancel()
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func pemCerts(data []byte) ([][]byte, error) {
	var out [][]byte
	for {
		var blk *pem.Block
		blk, data = pem.Decode(data)
		if blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" {
			out = append(out, blk.Bytes)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no certificate in the enrollment response")
	}
	return out, nil
}
