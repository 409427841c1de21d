package e2e

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// collectSystem is a controller serving /metrics, two public agents (paris, oslo) and an HTTPS
// target whose /fail answers 503.
type collectSystem struct {
	c       *testutil.Controller
	metrics string
	target  string
}

func startCollectSystem(t *testing.T) *collectSystem {
	t.Helper()
	dir := t.TempDir()
	targetCA := testutil.NewCA(t, "target CA")
	target := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprint(w, `{"status":"ok"}`)
	}))
	leaf := targetCA.Issue(t, "target", true)
	target.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key}}, MinVersion: tls.VersionTLS12}
	target.StartTLS()
	t.Cleanup(target.Close)
	metrics := freeAddr(t)
	c := testutil.StartController(t, filepath.Join(dir, "data"), "--metrics-listen", metrics)
	_, agentBin := testutil.Binaries(t)
	caFile := testutil.WriteFile(t, dir, "target-ca.pem", targetCA.PEM())
	for _, cp := range []string{"paris", "oslo"} {
		tok := strings.TrimSpace(c.MustCLI(t, "", "checkpoint", "token", "--name", cp, "--kind", "public"))
		p := testutil.Start(t, "agent "+cp, agentBin, "--controller", c.Addr, "--token-file", testutil.WriteFile(t, dir, cp+".token", []byte(tok)),
			"--state-dir", filepath.Join(dir, "agent-"+cp), "--ca-file", c.CAFile, "--target-ca-file", caFile, "--log-format", "json")
		p.WaitFor(t, "agent "+cp+" to be ready", 30*time.Second, testutil.Contains(`"msg":"agent ready"`))
	}
	return &collectSystem{c: c, metrics: metrics, target: target.URL}
}

func (s *collectSystem) apply(t *testing.T, name, path, checkpoints string) {
	t.Helper()
	src := fmt.Sprintf("name: %s\ninterval: 1h\ntimeout: 10s\ncheckpoints: [%s]\nsteps:\n  - name: get\n    request:\n      url: %q\n    assert:\n      - {source: status, comparison: equal, value: \"200\"}\n",
		name, checkpoints, s.target+path)
	s.c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, t.TempDir(), name+".yaml", []byte(src)))
}

// run runs a monitor on a checkpoint and waits for its result.
func (s *collectSystem) run(t *testing.T, monitor, cp string) *pb.RunResult {
	t.Helper()
	r := s.c.CLI(t, "", "run", monitor, "--checkpoint", cp, "--wait", "-o", "json", "--timeout", "60s")
	res := &pb.RunResult{}
	if err := protojson.Unmarshal([]byte(r.Stdout), res); err != nil {
		t.Fatalf("run %s @ %s: %v\n%s%s", monitor, cp, err, r.Stdout, r.Stderr)
	}
	return res
}

// probeSuccess scrapes /metrics and returns probe_success by "monitor@checkpoint", and whether a
// certificate expiry series exists per pair.
func (s *collectSystem) probeSuccess(t *testing.T) (map[string]float64, map[string]bool) {
	t.Helper()
	fams := s.scrape(t)
	success, ssl := map[string]float64{}, map[string]bool{}
	for _, m := range fams["probe_success"].GetMetric() {
		success[m.GetLabel()[0].GetValue()+"@"+m.GetLabel()[1].GetValue()] = m.GetGauge().GetValue()
	}
	for _, m := range fams["probe_ssl_earliest_cert_expiry"].GetMetric() {
		ssl[m.GetLabel()[0].GetValue()+"@"+m.GetLabel()[1].GetValue()] = m.GetGauge().GetValue() > float64(time.Now().Unix())
	}
	return success, ssl
}

// scrape reads /metrics with Prometheus' own parser.
func (s *collectSystem) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + s.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("scrape does not parse: %v", err)
	}
	return fams
}

var metricName = regexp.MustCompile(`\b(?:probe|lookout)_[a-z0-9_]+`)

// checkDashboards reads every query of the Grafana dashboard and every alert rule in
// deploy/grafana and fails for a metric they name that the scrape does not have.
func checkDashboards(t *testing.T, fams map[string]*dto.MetricFamily) {
	t.Helper()
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	raw, err := os.ReadFile("../../deploy/grafana/lookout-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	exprs := map[string]string{}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs["panel "+p.Title] += tg.Expr + " "
		}
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	raw, err = os.ReadFile("../../deploy/grafana/lookout-alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatalf("alert rules: %v", err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs["rule "+r.Alert] = r.Expr
		}
	}
	if len(exprs) < 10 {
		t.Fatalf("only %d queries and rules found: %v", len(exprs), exprs)
	}
	for where, expr := range exprs {
		names := metricName.FindAllString(expr, -1)
		if len(names) == 0 {
			t.Errorf("%s queries no Lookout metric: %s", where, expr)
		}
		for _, n := range names {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")
			if f, ok := fams[n]; ok && len(f.GetMetric()) > 0 {
				continue
			}
			if f, ok := fams[base]; ok && f.GetType() == dto.MetricType_HISTOGRAM && len(f.GetMetric()) > 0 {
				continue
			}
			t.Errorf("%s queries %s, which the scrape does not have", where, n)
		}
	}
}

// A results:read token reads results, status and the stream but cannot run anything; the scrape
// shows probe_success per monitor × checkpoint and certificate expiry; a deleted monitor's series
// go; a revoked token is refused at once.
func TestCollectorsReadResultsStatusAndMetrics(t *testing.T) {
	s := startCollectSystem(t)
	s.apply(t, "orders", "/ok", "paris, oslo")
	s.apply(t, "flaky", "/fail", "paris")
	secret := strings.TrimSpace(s.c.MustCLI(t, "", "token", "create", "--name", "grafana", "--scope", "results:read"))
	tok := testutil.WriteFile(t, t.TempDir(), "grafana.token", []byte(secret))
	asCollector := func(args ...string) testutil.CLIResult { return s.c.CLI(t, "", append(args, "--token-file", tok)...) }

	ok := s.run(t, "orders", "paris")
	s.run(t, "orders", "oslo")
	if bad := s.run(t, "flaky", "paris"); bad.Outcome != pb.Outcome_OUTCOME_FAILED {
		t.Fatalf("flaky: outcome %v, want FAILED", bad.Outcome)
	}

	last := asCollector("results", "last")
	for _, want := range []string{"orders  paris", "orders  oslo", "flaky   paris", "FAIL"} {
		if last.Code != 0 || !strings.Contains(strings.Join(strings.Fields(last.Stdout), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("results last: exit %d, no %q:\n%s%s", last.Code, want, last.Stdout, last.Stderr)
		}
	}
	show := asCollector("results", "show", ok.RunId)
	if show.Code != 0 || !strings.Contains(show.Stdout, "phases: resolve") || !strings.Contains(show.Stdout, "✓") {
		t.Errorf("results show: exit %d\n%s%s", show.Code, show.Stdout, show.Stderr)
	}
	status := asCollector("monitor", "status", "orders")
	if status.Code != 0 || !strings.Contains(status.Stdout, "100.000%") || !strings.Contains(status.Stdout, "oslo") {
		t.Errorf("monitor status: exit %d\n%s%s", status.Code, status.Stdout, status.Stderr)
	}
	tail := asCollector("results", "tail", "--from-start", "--failed", "--checkpoint", "paris", "--count", "1", "-o", "json")
	failedRes := &pb.RunResult{}
	if err := protojson.Unmarshal([]byte(tail.Stdout), failedRes); tail.Code != 0 || err != nil || failedRes.MonitorName != "flaky" {
		t.Errorf("results tail --failed: exit %d\n%s%s", tail.Code, tail.Stdout, tail.Stderr)
	}
	for _, args := range [][]string{{"results", "tail", "--monitor", "typo"}, {"results", "tail", "--checkpoint", "typo"}} {
		if r := asCollector(args...); r.Code == 0 || !strings.Contains(r.Stderr, "typo") {
			t.Errorf("%v: exit %d, want an error naming the typo:\n%s", args, r.Code, r.Stderr)
		}
	}
	if r := asCollector("run", "orders"); r.Code == 0 || !strings.Contains(r.Stderr, "needs scope admin") {
		t.Errorf("run with a results:read token: exit %d\n%s", r.Code, r.Stderr)
	}

	checkDashboards(t, s.scrape(t))
	success, ssl := s.probeSuccess(t)
	want := map[string]float64{"orders@paris": 1, "orders@oslo": 1, "flaky@paris": 0}
	for k, v := range want {
		if got, ok := success[k]; !ok || got != v {
			t.Errorf("probe_success{%s} = %v (present %v), want %v; all: %v", k, got, ok, v, success)
		}
	}
	if !ssl["orders@paris"] || !ssl["orders@oslo"] {
		t.Errorf("probe_ssl_earliest_cert_expiry: %v, want a future expiry for orders on both checkpoints", ssl)
	}
	s.c.MustCLI(t, "", "monitor", "delete", "flaky")
	if success, _ := s.probeSuccess(t); len(success) != 2 {
		t.Errorf("after deleting flaky, probe_success = %v, want orders' two series only", success)
	}

	s.c.MustCLI(t, "", "token", "revoke", "grafana")
	if r := asCollector("results", "last"); r.Code == 0 || !strings.Contains(r.Stderr, "revoked") {
		t.Errorf("results last after revoke: exit %d\n%s", r.Code, r.Stderr)
	}
}
