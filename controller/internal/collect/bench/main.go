// Command bench prints the collectors' figures: the time of one /metrics scrape
// with 10,000 monitors × 3 checkpoints of probe series (metrics_scrape_ms_30k_series, over real
// HTTP on loopback) and of one 30-day monitor status from hourly rollups (monitor_status_ms_30d),
// both on a real bbolt file. Each figure is the median of several runs.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lookout-synthetics/lookout/controller/internal/collect"
	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "lookout-collectbench:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("lookout-collectbench", flag.ContinueOnError)
	monitors := fs.Int("monitors", 10000, "monitors, each on 3 checkpoints")
	rounds := fs.Int("rounds", 5, "measurements per figure (the median is printed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "lookout-collectbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(dir)
	if err != nil {
		return err
	}
	defer st.Close()
	scrape, bytes, err := scrapeFigure(st, *monitors, *rounds)
	if err != nil {
		return err
	}
	status, err := statusFigure(st, *rounds*4)
	if err != nil {
		return err
	}
	// Wall-clock medians, and the process's CPU time per operation (scraper and server both), which
	// a shared machine's load does not inflate.
	fmt.Fprintf(stdout, "metrics_scrape_ms_30k_series=%.1f\nmetrics_scrape_cpu_ms_30k_series=%.1f\nmetrics_scrape_bytes_30k_series=%d\n", scrape.wall, scrape.cpu, bytes)
	fmt.Fprintf(stdout, "monitor_status_ms_30d=%.2f\nmonitor_status_cpu_ms_30d=%.2f\n", status.wall, status.cpu)
	return nil
}

var checkpoints = []string{"paris", "oslo", "virginia"}

// scrapeFigure stores one result per monitor × checkpoint, loads the probe series from the store
// and times whole scrapes over HTTP.
func scrapeFigure(st *store.Store, monitors, rounds int) (f figure, size int64, err error) {
	now := time.Now()
	for i := range monitors {
		if _, _, _, err := st.PutMonitor(&pb.Monitor{Name: fmt.Sprintf("monitor-%05d", i), Checkpoints: checkpoints, Interval: durationpb.New(time.Minute)}); err != nil {
			return f, 0, err
		}
	}
	var batch []string
	for i := range monitors {
		batch = append(batch, fmt.Sprintf("monitor-%05d", i))
		if len(batch) == 500 || i == monitors-1 {
			if err := storeResults(st, batch, checkpoints, now); err != nil {
				return f, 0, err
			}
			batch = batch[:0]
		}
	}
	probes, err := collect.NewProbeSeries(st, slog.New(slog.DiscardHandler))
	if err != nil {
		return f, 0, err
	}
	srv := httptest.NewServer(collect.MetricsHandler(prometheus.NewRegistry(), probes, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	var took []float64
	cpu0 := cpuTime()
	for range rounds {
		start := time.Now()
		resp, err := http.Get(srv.URL)
		if err != nil {
			return f, 0, err
		}
		size, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return f, 0, err
		}
		took = append(took, float64(time.Since(start).Microseconds())/1000)
	}
	return figure{median(took), msPer(cpuTime()-cpu0, rounds)}, size, nil
}

// statusFigure stores 30 days of hourly results of one monitor on 3 checkpoints and times
// MonitorStatus.
func statusFigure(st *store.Store, rounds int) (f figure, err error) {
	if _, _, _, err := st.PutMonitor(&pb.Monitor{Name: "status", Checkpoints: checkpoints, Interval: durationpb.New(time.Hour)}); err != nil {
		return f, err
	}
	now := time.Now()
	for h := range 30 * 24 {
		if err := storeResults(st, []string{"status"}, checkpoints, now.Add(-time.Duration(h)*time.Hour)); err != nil {
			return f, err
		}
	}
	q := &collect.Queries{Store: st}
	var took []float64
	cpu0 := cpuTime()
	for range rounds {
		start := time.Now()
		if _, err := q.MonitorStatus(context.Background(), "status"); err != nil {
			return f, err
		}
		took = append(took, float64(time.Since(start).Microseconds())/1000)
	}
	return figure{median(took), msPer(cpuTime()-cpu0, rounds)}, nil
}

// storeResults records, in one transaction, a passed run of each monitor on each checkpoint.
func storeResults(st *store.Store, monitors, cps []string, at time.Time) error {
	var runs []*pb.Run
	var results []*pb.RunResult
	for _, m := range monitors {
		for _, cp := range cps {
			runs = append(runs, &pb.Run{RunId: store.NewID("run_"), MonitorName: m, CheckpointName: cp, Attempt: 1,
				ScheduledAt: timestamppb.New(at), Deadline: timestamppb.New(at.Add(time.Minute))})
			results = append(results, result(at))
		}
	}
	wait, err := st.QueueRuns(runs, results)
	if err != nil {
		return err
	}
	_, err = wait()
	return err
}

func result(at time.Time) *pb.RunResult {
	d := durationpb.New(10 * time.Millisecond)
	return &pb.RunResult{Outcome: pb.Outcome_OUTCOME_PASSED, StartedAt: timestamppb.New(at), FinishedAt: timestamppb.New(at.Add(120 * time.Millisecond)),
		Steps: []*pb.StepResult{{Name: "get", Passed: true, Method: "GET", StatusCode: 200, ServerCertNotAfter: timestamppb.New(at.Add(90 * 24 * time.Hour)),
			Timings: &pb.Timings{Dns: d, Connect: d, Tls: d, FirstByte: d, Download: d}}}}
}

func median(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// figure is a median wall-clock time and the CPU time per operation, in milliseconds.
type figure struct{ wall, cpu float64 }

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func msPer(d time.Duration, n int) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }
