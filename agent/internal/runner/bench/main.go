// Command bench measures the runner against a bare net/http client doing the same mTLS requests
// with the same certificate, and prints the figures as a table and key=value lines. `make bench`
// runs it next to internal/bench (it lives under agent/ because the runner is internal to the
// agent). Its parts (-parts): the cost per step (paired samples in this process), the capacity
// at 100 and 500 runs in flight against a target that answers after 50 ms (capacity.go, each side
// in a child process of its own so its RSS is its own), and the timing accuracy of firstByte and
// download against injected delays, with curl on the same target as a reference (timing.go).
package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/lookout-synthetics/lookout/agent/internal/runner"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

const (
	samples    = 41 // paired samples of each case and its baseline
	newconnN   = 20 // runs per side of a sample, each on a fresh connection
	keepaliveN = 10 // runs per side of a sample, each keepSteps steps on one connection
	keepSteps  = 20
)

var (
	cpuProfile = flag.String("cpuprofile", "", "write a CPU profile of the measured cases to this file")
	memProfile = flag.String("memprofile", "", "write the allocations of the whole run to this file (go tool pprof -sample_index=alloc_space)")
	only       = flag.String("only", "", "run only the case with this name (e.g. runner_keepalive), for profiling")
	parts      = flag.String("parts", "steps,capacity,timing", "which parts to run, comma-separated")
)

func main() {
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if *childSide != "" {
		if err := runChild(); err != nil {
			fmt.Fprintln(os.Stderr, "bench child:", err)
			os.Exit(1)
		}
		return
	}
	if err := runParts(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if *memProfile != "" {
		if err := writeHeapProfile(*memProfile); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
}

// runParts runs the parts -parts names, in order.
func runParts() error {
	k, err := newPKI()
	if err != nil {
		return err
	}
	for _, part := range strings.Split(*parts, ",") {
		switch part {
		case "steps":
			err = stepCost(k)
		case "capacity":
			err = capacity(k)
		case "timing":
			err = timing(k)
		default:
			err = fmt.Errorf("-parts: unknown part %q (steps, capacity, timing)", part)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", part, err)
		}
	}
	return nil
}

// stepCost measures the runner's cost per step against the bare client's, in paired samples.
func stepCost(k *pki) error {
	pool, clientCert := k.pool, k.client
	srv := k.target(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	}))
	defer srv.Close()
	url := srv.URL + "/health"

	r := runner.New(runner.Options{RootCAs: pool})
	secrets := &runner.Secrets{Certificates: map[string]*tls.Certificate{"c": &clientCert}}
	monitor := func(steps int) *pb.Monitor {
		m := &pb.Monitor{Id: "m", Name: "bench", Timeout: durationpb.New(30 * time.Second)}
		for i := 0; i < steps; i++ {
			m.Steps = append(m.Steps, &pb.Step{Name: fmt.Sprint("s", i), Request: &pb.HttpRequest{Url: url,
				ClientCertificate: &pb.ClientCertificate{Source: pb.CertificateSource_CERTIFICATE_SOURCE_VAULT, Item: "c"}},
				Assert: []*pb.Assertion{{Source: pb.AssertSource_ASSERT_SOURCE_STATUS, Comparison: pb.Comparison_COMPARISON_EQUAL, Value: "200"}}})
		}
		return m
	}
	one, many := monitor(1), monitor(keepSteps)
	ctx := context.Background()
	runOnce := func(m *pb.Monitor) error {
		res := r.Run(ctx, &pb.RunRequest{RunId: "r", Attempt: 1, CheckpointId: "cp", Monitor: m}, secrets)
		if res.Outcome != pb.Outcome_OUTCOME_PASSED {
			return fmt.Errorf("runner: %s", res.Message)
		}
		return nil
	}
	bareTransport := func() *http.Transport {
		return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{clientCert}}, ForceAttemptHTTP2: true}
	}
	get := func(c *http.Client) error {
		resp, err := c.Get(url)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("bare: status %d", resp.StatusCode)
		}
		return nil
	}

	// Each case runs n times and returns the time per step.
	type caseFn func(n int) (time.Duration, error)
	runnerNew := func(n int) (time.Duration, error) {
		t0 := time.Now()
		for range n {
			if err := runOnce(one); err != nil {
				return 0, err
			}
		}
		return time.Since(t0) / time.Duration(n), nil
	}
	bareNew := func(n int) (time.Duration, error) {
		t0 := time.Now()
		for range n {
			tr := bareTransport()
			if err := get(&http.Client{Transport: tr}); err != nil {
				return 0, err
			}
			tr.CloseIdleConnections()
		}
		return time.Since(t0) / time.Duration(n), nil
	}
	runnerKeep := func(n int) (time.Duration, error) {
		t0 := time.Now()
		for range n {
			if err := runOnce(many); err != nil {
				return 0, err
			}
		}
		return time.Since(t0) / time.Duration(n*keepSteps), nil
	}
	bareKeep := func(n int) (time.Duration, error) {
		t0 := time.Now()
		for range n {
			tr := bareTransport()
			c := &http.Client{Transport: tr}
			for range keepSteps {
				if err := get(c); err != nil {
					return 0, err
				}
			}
			tr.CloseIdleConnections()
		}
		return time.Since(t0) / time.Duration(n*keepSteps), nil
	}
	// Pairs are measured side by side: each sample times the runner and the bare client back to
	// back (which goes first alternates), and the ratio is the median of the samples' ratios, so a
	// slow spell of the shared machine lands on both sides of a sample rather than on one case.
	pairs := []struct {
		name         string // the ratio's figure
		runner, bare string
		n            int // runs per side per sample
		runnerFn     caseFn
		bareFn       caseFn
	}{
		{"agent_step_ratio_newconn", "runner_newconn", "bare_newconn", newconnN, runnerNew, bareNew},
		{"agent_step_ratio_keepalive", "runner_keepalive", "bare_keepalive", keepaliveN, runnerKeep, bareKeep},
	}
	times := map[string][]time.Duration{}
	ratios := map[string][]float64{}
	for i := range samples {
		for _, p := range pairs {
			if *only != "" && *only != p.runner && *only != p.bare {
				continue
			}
			sides := []struct {
				name string
				fn   caseFn
			}{{p.runner, p.runnerFn}, {p.bare, p.bareFn}}
			if i%2 == 1 {
				sides[0], sides[1] = sides[1], sides[0]
			}
			got := map[string]time.Duration{}
			for _, side := range sides {
				if *only != "" && *only != side.name {
					continue
				}
				d, err := side.fn(p.n)
				if err != nil {
					return fmt.Errorf("%s: %w", side.name, err)
				}
				got[side.name] = d
				times[side.name] = append(times[side.name], d)
			}
			if *only == "" {
				ratios[p.name] = append(ratios[p.name], float64(got[p.runner])/float64(got[p.bare]))
			}
		}
	}
	fmt.Printf("%-26s %10s %10s %10s\n", "per step (µs) / ratio", "median", "min", "max")
	for _, p := range pairs {
		for _, name := range []string{p.runner, p.bare} {
			if s := sorted(times[name]); len(s) > 0 {
				fmt.Printf("%-26s %10.1f %10.1f %10.1f\n", name, us(s[len(s)/2]), us(s[0]), us(s[len(s)-1]))
			}
		}
		if s := sorted(ratios[p.name]); len(s) > 0 {
			fmt.Printf("%-26s %10.2f %10.2f %10.2f\n", p.name, s[len(s)/2], s[0], s[len(s)-1])
		}
	}
	if *only != "" {
		return nil
	}
	med := func(name string) float64 { s := sorted(times[name]); return us(s[len(s)/2]) }
	fmt.Printf("agent_step_newconn_us=%.1f\nbare_step_newconn_us=%.1f\n", med("runner_newconn"), med("bare_newconn"))
	fmt.Printf("agent_step_keepalive_us=%.1f\nbare_step_keepalive_us=%.1f\n", med("runner_keepalive"), med("bare_keepalive"))
	for _, p := range pairs {
		s := sorted(ratios[p.name])
		fmt.Printf("%s=%.2f\n", p.name, s[len(s)/2])
	}
	return nil
}

func sorted[T cmp.Ordered](s []T) []T {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC() // the profile shows allocations up to the last GC: include the last cycle
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
