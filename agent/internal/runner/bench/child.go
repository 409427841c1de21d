package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/lookout-synthetics/lookout/agent/internal/runner"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// A child process runs one side of a capacity window: the runner or the bare client, with a
// number of runs in flight, for a while, and prints what it did on one line.
var (
	childSide     = flag.String("child", "", "internal: run one side of a capacity window (runner or bare) and exit")
	childSteps    = flag.Int("child-steps", 1, "internal: steps per run (1 = a new connection per step)")
	childInflight = flag.Int("child-inflight", 100, "internal: runs in flight")
	childRuns     = flag.Int("child-runs", 40, "internal: runs of a timing child")
	childFor      = flag.Duration("child-for", 2*time.Second, "internal: measured time, after a warm-up of half of it")
	childURL      = flag.String("child-url", "", "internal: the target")
	childPKI      = flag.String("child-pki", "", "internal: CA, client certificate and key files, comma-separated")
	timingDetail  = flag.Bool("timing-detail", false, "print each timing run's signed firstByte and download errors (ns) to stderr")
	timingTrace   = flag.String("timing-trace", "", "write a runtime/trace of the timing child at 100 in flight to this file")
)

// runOneFunc performs one run of steps steps and reports whether it passed.
type runOneFunc func(ctx context.Context) error

func runChild() error {
	f := strings.Split(*childPKI, ",")
	if len(f) != 3 {
		return fmt.Errorf("-child-pki wants three files")
	}
	pool, cert, err := loadPKI(pkiFiles{ca: f[0], cert: f[1], key: f[2]})
	if err != nil {
		return err
	}
	var one runOneFunc
	switch *childSide {
	case "timing":
		r := runner.New(runner.Options{RootCAs: pool})
		return childTiming(r, &runner.Secrets{Certificates: map[string]*tls.Certificate{"c": &cert}}, *childURL, *childInflight, *childRuns)
	case "runner":
		one = runnerRun(pool, &cert, *childURL, *childSteps)
	case "bare":
		one = bareRun(pool, cert, *childURL, *childSteps)
	default:
		return fmt.Errorf("-child %q: want runner, bare or timing", *childSide)
	}
	from, to, err := drive(one, *childInflight, *childFor)
	if err != nil {
		return err
	}
	hwm, err := peakRSSMiB()
	if err != nil {
		return err
	}
	fmt.Printf("from=%d to=%d rss_mib=%.1f\n", from.UnixNano(), to.UnixNano(), hwm)
	return nil
}

// drive keeps inflight runs going for a warm-up of half the window and then the window, waits for
// every run to end, and returns the window: the target counts the steps it answered within it,
// since at 500 in flight on a busy machine a run may take longer than the window.
func drive(one runOneFunc, inflight int, window time.Duration) (from, to time.Time, err error) {
	warm := time.Now().Add(window / 2)
	stop := warm.Add(window)
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range inflight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				err := one(ctx)
				cancel()
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return warm, stop, err
	}
	return warm, stop, nil
}

// runnerRun is one run of the agent's runner: steps GETs with the client certificate, each
// asserting status 200, on one connection (the runner's pool lives as long as a run).
func runnerRun(pool *x509.CertPool, cert *tls.Certificate, url string, steps int) runOneFunc {
	r := runner.New(runner.Options{RootCAs: pool})
	secrets := &runner.Secrets{Certificates: map[string]*tls.Certificate{"c": cert}}
	m := &pb.Monitor{Id: "m", Name: "capacity", Timeout: durationpb.New(30 * time.Second)}
	for i := range steps {
		m.Steps = append(m.Steps, &pb.Step{Name: fmt.Sprint("s", i), Request: &pb.HttpRequest{Url: url,
			ClientCertificate: &pb.ClientCertificate{Source: pb.CertificateSource_CERTIFICATE_SOURCE_VAULT, Item: "c"}},
			Assert: []*pb.Assertion{{Source: pb.AssertSource_ASSERT_SOURCE_STATUS, Comparison: pb.Comparison_COMPARISON_EQUAL, Value: "200"}}})
	}
	return func(ctx context.Context) error {
		res := r.Run(ctx, &pb.RunRequest{RunId: "r", Attempt: 1, CheckpointId: "cp", Monitor: m}, secrets)
		if res.Outcome != pb.Outcome_OUTCOME_PASSED {
			return fmt.Errorf("runner: %s", res.Message)
		}
		return nil
	}
}

// bareRun is the baseline: steps GETs on one new net/http transport, then its connections closed.
func bareRun(pool *x509.CertPool, cert tls.Certificate, url string, steps int) runOneFunc {
	return func(ctx context.Context) error {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}, ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr}
		for range steps {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			resp, err := c.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("bare: status %d", resp.StatusCode)
			}
		}
		return nil
	}
}

// peakRSSMiB is this process's peak resident set (VmHWM).
func peakRSSMiB() (float64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}
