// Command bench prints the web console's figures for `make bench`: the server time and transfer
// size of the overview page with 10,000 monitors × 3 checkpoints, each cell holding a result.
// It runs in process over a real store in a temporary directory; no network.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lookout-synthetics/lookout/controller/internal/alerting"
	"github.com/lookout-synthetics/lookout/controller/internal/api"
	"github.com/lookout-synthetics/lookout/controller/internal/console"
	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

const (
	monitors = 10000
	rounds   = 15
)

var checkpoints = []string{"eu-west", "us-east", "ap-south"}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "console bench:", err)
		os.Exit(1)
	}
}

func run() error {
	dir, err := os.MkdirTemp("", "lookout-console-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(dir)
	if err != nil {
		return err
	}
	defer st.Close()
	idx := console.NewIndex(console.IndexOptions{})
	if err := fill(st, idx); err != nil {
		return err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The overview shows each monitor's alerting state, read for every monitor on each render.
	eng := alerting.New(alerting.Options{Store: st, Logger: quiet})
	c, err := console.New(console.Options{Backend: &api.Admin{Store: st, Logger: quiet}, Monitors: st, Index: idx, Tokens: console.AdminToken("bench"), Logger: quiet,
		Alerts: engineStates{eng}})
	if err != nil {
		return err
	}
	defer c.Close()
	cookie, err := signIn(c)
	if err != nil {
		return err
	}
	if path := os.Getenv("CONSOLE_BENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	plain := measure(c, cookie, "")
	gz := measure(c, cookie, "gzip")
	fmt.Printf("console_overview_ms_10k=%.1f\nconsole_overview_cpu_ms_10k=%.1f\nconsole_overview_bytes_10k=%d\n", plain.ms, plain.cpuMs, plain.bytes)
	fmt.Printf("console_overview_gzip_ms_10k=%.1f\nconsole_overview_gzip_bytes_10k=%d\n", gz.ms, gz.bytes)
	return nil
}

// fill stores the monitors (16 writers, so the store's group commit batches them) and gives the
// index one result per monitor × checkpoint, a tenth of them failed.
func fill(st *store.Store, idx *console.Index) error {
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < monitors; i += 16 {
				if _, _, _, err := st.PutMonitor(monitor(i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	ms, err := st.Monitors()
	if err != nil {
		return err
	}
	now := time.Now()
	for i, m := range ms {
		for j, cp := range m.Checkpoints {
			o := pb.Outcome_OUTCOME_PASSED
			if (i+j)%10 == 0 {
				o = pb.Outcome_OUTCOME_FAILED
			}
			at := now.Add(-time.Duration(i%600) * time.Second)
			idx.Observe(&pb.RunResult{RunId: store.NewID("run"), Sequence: uint64(i*3 + j + 1), MonitorId: m.Id, MonitorName: m.Name, CheckpointName: cp,
				Outcome: o, StartedAt: timestamppb.New(at.Add(-300 * time.Millisecond)), FinishedAt: timestamppb.New(at)})
		}
	}
	return nil
}

func monitor(i int) *pb.Monitor {
	return &pb.Monitor{Name: fmt.Sprintf("api-%05d", i), Interval: durationpb.New(time.Minute), Timeout: durationpb.New(10 * time.Second), Checkpoints: checkpoints,
		Steps: []*pb.Step{{Name: "health", Request: &pb.HttpRequest{Method: "GET", Url: fmt.Sprintf("https://api-%05d.example/health", i)}}}}
}

func signIn(c *console.Console) (string, error) {
	req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/login", strings.NewReader(url.Values{"token": {"bench"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, req)
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == "lookout_session" {
			return ck.Value, nil
		}
	}
	return "", fmt.Errorf("sign-in failed: status %d", rec.Code)
}

type figures struct {
	ms, cpuMs float64 // median server time; process CPU time per render (robust on a busy machine)
	bytes     int     // bytes sent
}

// measure renders the overview rounds times after a warm-up.
func measure(c *console.Console, cookie, encoding string) figures {
	var times []time.Duration
	var f figures
	var cpu time.Duration
	for i := range rounds + 2 {
		req := httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/", nil)
		req.AddCookie(&http.Cookie{Name: "lookout_session", Value: cookie})
		if encoding != "" {
			req.Header.Set("Accept-Encoding", encoding)
		}
		rec := httptest.NewRecorder()
		start, cpuStart := time.Now(), cpuTime()
		c.ServeHTTP(rec, req)
		took, cpuTook := time.Since(start), cpuTime()-cpuStart
		if i >= 2 {
			times, cpu = append(times, took), cpu+cpuTook
		}
		f.bytes = rec.Body.Len()
	}
	slices.Sort(times)
	f.ms = float64(times[len(times)/2].Microseconds()) / 1000
	f.cpuMs = float64(cpu.Microseconds()) / 1000 / rounds
	return f
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// engineStates gives the console the alerting engine's monitor states, as the controller does;
// the bench has no alerts to list.
type engineStates struct{ e *alerting.Engine }

func (engineStates) OpenAlerts(context.Context) ([]console.Alert, error)            { return nil, nil }
func (engineStates) MonitorAlerts(context.Context, string) ([]console.Alert, error) { return nil, nil }

func (a engineStates) States(_ context.Context, ms []*pb.Monitor) (map[string]string, error) {
	return a.e.StateWords(ms)
}
