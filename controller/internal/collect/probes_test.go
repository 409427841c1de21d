package collect_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lookout-synthetics/lookout/controller/internal/collect"
	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

func openStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func putMonitor(t testing.TB, st *store.Store, name string, checkpoints ...string) {
	t.Helper()
	if _, _, _, err := st.PutMonitor(&pb.Monitor{Name: name, Checkpoints: checkpoints, Interval: durationpb.New(time.Minute)}); err != nil {
		t.Fatal(err)
	}
}

// storeResult records a run and its result the way the controller stores one it ends itself, and
// returns the stored result.
func storeResult(t testing.TB, st *store.Store, monitor, cp string, start time.Time, res *pb.RunResult) *pb.RunResult {
	t.Helper()
	id := store.NewID("run_")
	run := &pb.Run{RunId: id, MonitorId: "id-" + monitor, MonitorName: monitor, CheckpointId: "id-" + cp, CheckpointName: cp, Attempt: 1,
		State: pb.RunState_RUN_STATE_DISPATCHED, ScheduledAt: timestamppb.New(start), Deadline: timestamppb.New(start.Add(time.Minute))}
	if res.StartedAt == nil {
		res.StartedAt = timestamppb.New(start)
	}
	wait, err := st.QueueRuns([]*pb.Run{run}, []*pb.RunResult{res})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := wait()
	if err != nil {
		t.Fatal(err)
	}
	return stored[0]
}

func passed(d time.Duration, status int32, certExpiry time.Time) *pb.RunResult {
	st := &pb.StepResult{Name: "s", Passed: true, StatusCode: status, Timings: &pb.Timings{Dns: durationpb.New(time.Millisecond),
		Connect: durationpb.New(2 * time.Millisecond), Tls: durationpb.New(3 * time.Millisecond), FirstByte: durationpb.New(4 * time.Millisecond),
		Download: durationpb.New(5 * time.Millisecond)}}
	if !certExpiry.IsZero() {
		st.ServerCertNotAfter = timestamppb.New(certExpiry)
	}
	return &pb.RunResult{Outcome: pb.Outcome_OUTCOME_PASSED, Steps: []*pb.StepResult{st}, FinishedAt: timestamppb.New(time.Now().Add(d))}
}

// scrape serves the metrics handler on loopback and parses one scrape with Prometheus' own parser.
func scrape(t testing.TB, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("scrape does not parse: %v\n%s", err, body)
	}
	return fams
}

// values maps "monitor/checkpoint[/phase]" to the gauge's value.
func values(f *dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, m := range f.GetMetric() {
		var parts []string
		for _, l := range m.GetLabel() {
			parts = append(parts, l.GetValue())
		}
		out[strings.Join(parts, "/")] = m.GetGauge().GetValue()
	}
	return out
}

func TestProbeSeriesFollowResultsAndForgetDeletedMonitors(t *testing.T) {
	st := openStore(t)
	putMonitor(t, st, "orders", "paris", "oslo")
	putMonitor(t, st, "billing", "paris")
	now := time.Now()
	expiry := now.Add(30 * 24 * time.Hour).Truncate(time.Second)
	// Stored before the series start: loaded from the latest-result index.
	storeResult(t, st, "billing", "paris", now, passed(0, 200, expiry))
	probes, err := collect.NewProbeSeries(st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	observe := func(m, cp string, res *pb.RunResult) { probes.Observe(storeResult(t, st, m, cp, now, res)) }
	observe("orders", "paris", passed(0, 200, expiry))
	observe("orders", "oslo", &pb.RunResult{Outcome: pb.Outcome_OUTCOME_FAILED, FinishedAt: timestamppb.New(now), Steps: []*pb.StepResult{{StatusCode: 503}}})
	// Lookout's own error says nothing of the API: oslo's probe_success stays what it was.
	observe("orders", "oslo", &pb.RunResult{Outcome: pb.Outcome_OUTCOME_ERROR, ErrorClass: pb.ErrorClass_ERROR_CLASS_AGENT_LOST, FinishedAt: timestamppb.New(now)})

	reg := prometheus.NewRegistry()
	h := collect.MetricsHandler(reg, probes, slog.New(slog.DiscardHandler))
	fams := scrape(t, h)
	want := map[string]float64{"billing/paris": 1, "orders/paris": 1, "orders/oslo": 0}
	if d := cmp.Diff(values(fams["probe_success"]), want); d != "" {
		t.Errorf("probe_success (-got +want):\n%s", d)
	}
	if d := cmp.Diff(values(fams["probe_http_status_code"]), map[string]float64{"billing/paris": 200, "orders/paris": 200, "orders/oslo": 503}); d != "" {
		t.Errorf("probe_http_status_code (-got +want):\n%s", d)
	}
	if got := values(fams["probe_ssl_earliest_cert_expiry"])["orders/paris"]; got != float64(expiry.Unix()) {
		t.Errorf("probe_ssl_earliest_cert_expiry = %v, want %d", got, expiry.Unix())
	}
	if got := values(fams["probe_http_duration_seconds"])["orders/paris/tls"]; got != 0.003 {
		t.Errorf("tls phase = %v, want 0.003", got)
	}
	counts := map[string]uint64{}
	for _, m := range fams["lookout_run_duration_seconds"].GetMetric() {
		counts[m.GetLabel()[0].GetValue()+"/"+m.GetLabel()[1].GetValue()] = m.GetHistogram().GetSampleCount()
	}
	if d := cmp.Diff(counts, map[string]uint64{"billing/paris": 0, "orders/paris": 1, "orders/oslo": 1}); d != "" {
		t.Errorf("run-duration histogram counts (-got +want):\n%s", d)
	}

	// Deleting a monitor, or taking a checkpoint off one, takes its series away at once.
	if err := st.DeleteMonitor("billing"); err != nil {
		t.Fatal(err)
	}
	putMonitor(t, st, "orders", "paris")
	fams = scrape(t, h)
	if d := cmp.Diff(values(fams["probe_success"]), map[string]float64{"orders/paris": 1}); d != "" {
		t.Errorf("probe_success after deletes (-got +want):\n%s", d)
	}
	if n := len(fams["lookout_run_duration_seconds"].GetMetric()); n != 1 {
		t.Errorf("%d run-duration histograms after deletes, want 1", n)
	}
}

// Label values from users are escaped, so a monitor name cannot forge series.
func TestProbeSeriesEscapeLabelValues(t *testing.T) {
	st := openStore(t)
	name := "evil\"} probe_success{monitor=\"x"
	putMonitor(t, st, name, "paris")
	probes, err := collect.NewProbeSeries(st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	probes.Observe(storeResult(t, st, name, "paris", time.Now(), passed(0, 200, time.Time{})))
	fams := scrape(t, collect.MetricsHandler(prometheus.NewRegistry(), probes, slog.New(slog.DiscardHandler)))
	if d := cmp.Diff(values(fams["probe_success"]), map[string]float64{name + "/paris": 1}); d != "" {
		t.Errorf("probe_success (-got +want):\n%s", d)
	}
}
