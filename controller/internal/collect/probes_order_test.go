package collect_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lookout-synthetics/lookout/controller/internal/collect"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// A result reported late (its run was scheduled before the one the series shows) counts in the
// run-duration histogram but does not replace the probe gauges, in the running series and in one
// loaded from the store at start.
func TestProbeSeriesKeepTheLatestScheduledRunWhenAResultIsLate(t *testing.T) {
	st := openStore(t)
	putMonitor(t, st, "orders", "paris")
	probes, err := collect.NewProbeSeries(st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	probes.Observe(storeResult(t, st, "orders", "paris", now.Add(2*time.Minute), passed(0, 200, time.Time{})))
	late := &pb.RunResult{Outcome: pb.Outcome_OUTCOME_FAILED, FinishedAt: timestamppb.New(now.Add(time.Minute)), Steps: []*pb.StepResult{{StatusCode: 503}}}
	probes.Observe(storeResult(t, st, "orders", "paris", now.Add(time.Minute), late))

	restarted, err := collect.NewProbeSeries(st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*collect.ProbeSeries{"running": probes, "restarted": restarted} {
		fams := scrape(t, collect.MetricsHandler(prometheus.NewRegistry(), p, slog.New(slog.DiscardHandler)))
		if d := cmp.Diff(values(fams["probe_success"]), map[string]float64{"orders/paris": 1}); d != "" {
			t.Errorf("%s: probe_success (-got +want):\n%s", name, d)
		}
		if d := cmp.Diff(values(fams["probe_http_status_code"]), map[string]float64{"orders/paris": 200}); d != "" {
			t.Errorf("%s: probe_http_status_code (-got +want):\n%s", name, d)
		}
	}
	fams := scrape(t, collect.MetricsHandler(prometheus.NewRegistry(), probes, slog.New(slog.DiscardHandler)))
	if n := fams["lookout_run_duration_seconds"].GetMetric()[0].GetHistogram().GetSampleCount(); n != 2 {
		t.Errorf("run-duration histogram counts %d runs, want 2: the late run still ran", n)
	}
}
