package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// metric reads one unlabelled sample from a Prometheus text endpoint.
func metric(t *testing.T, addr, name string) float64 {
	t.Helper()
	return metricWithLabels(t, addr, name)
}

// metricWithLabels reads one sample, named with its labels as the text format writes them:
// name{a="x",b="y"}.
func metricWithLabels(t *testing.T, addr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("%s has no %s", addr, name)
	return 0
}

// TestSteadyStateRunsFetchNoSecrets: a monitor with a vault client certificate, run three times on
// a real agent, costs the controller one decrypt-and-seal; the next two runs are claims only, and
// the target sees the same certificate each time. A replaced certificate is sent once more and
// presented from the next run on; a monitor deleted takes its item out of the agent's memory at the
// next heartbeat.
func TestSteadyStateRunsFetchNoSecrets(t *testing.T) {
	dir := t.TempDir()
	clientCA, serverCA := testutil.NewCA(t, "cache e2e client CA"), testutil.NewCA(t, "cache e2e server CA")
	var mu sync.Mutex
	var seen []string // fingerprints of the client certificates presented, in order
	target := testutil.MTLSServer(t, serverCA, clientCA, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sum := sha256.Sum256(r.TLS.PeerCertificates[0].Raw)
		mu.Lock()
		seen = append(seen, hex.EncodeToString(sum[:]))
		mu.Unlock()
		fmt.Fprint(w, "ok")
	}))
	ctlMetrics, agentMetrics := freeAddr(t), freeAddr(t)
	c := testutil.StartController(t, filepath.Join(dir, "data"), "--metrics-listen", ctlMetrics)
	_, agentBin := testutil.Binaries(t)
	tok := strings.TrimSpace(c.MustCLI(t, "", "checkpoint", "token", "--name", "cache-site", "--kind", "private"))
	agent := testutil.Start(t, "agent cache-site", agentBin, "--controller", c.Addr,
		"--token-file", testutil.WriteFile(t, dir, "agent.token", []byte(tok)), "--heartbeat", "1s",
		"--state-dir", filepath.Join(dir, "agent"), "--ca-file", c.CAFile, "--metrics-listen", agentMetrics,
		"--target-ca-file", testutil.WriteFile(t, dir, "server-ca.pem", serverCA.PEM()), "--log-format", "json")
	agent.WaitFor(t, "agent to be ready", 30*time.Second, testutil.Contains(`"msg":"agent ready"`))

	leaf1 := clientCA.Issue(t, "client-v1", false)
	c.MustCLI(t, "pw-one\n", "vault", "add-certificate", "--name", "cached", "--file", testutil.WriteFile(t, dir, "v1.p12", leaf1.PKCS12(t, clientCA, "pw-one")), "--password-stdin")
	c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, dir, "m.yaml", []byte(fmt.Sprintf(`name: cached-cert
interval: 1h
checkpoints: [cache-site]
steps:
  - request:
      url: %q
      client_certificate: {source: vault, item: cached}
    assert:
      - {source: status, comparison: equal, value: "200"}
`, target.URL))))
	run := func() {
		t.Helper()
		if r := c.CLI(t, "", "run", "cached-cert", "--wait", "--timeout", "60s"); r.Code != 0 {
			t.Fatalf("run: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
		}
	}
	fp := func(l *testutil.Leaf) string { s := sha256.Sum256(l.Cert.Raw); return hex.EncodeToString(s[:]) }

	for range 3 {
		run()
	}
	// A new monitor is also due at once, so the schedule may have added a run of its own.
	mu.Lock()
	runs := float64(len(seen))
	mu.Unlock()
	sealed, reused, seals := metric(t, ctlMetrics, "lookout_run_secrets_sealed_total"), metric(t, ctlMetrics, "lookout_run_secrets_reused_total"), metric(t, ctlMetrics, "lookout_run_secret_seals_total")
	t.Logf("%v runs: %v items sealed in %v seals, %v reused", runs, sealed, seals, reused)
	if runs < 3 || sealed != 1 || seals != 1 || reused != runs-1 {
		t.Errorf("%v runs of one certificate: sealed %v items in %v seals, reused %v; want 1, 1, %v", runs, sealed, seals, reused, runs-1)
	}
	if hits, misses := metric(t, agentMetrics, "lookout_agent_secret_cache_hits_total"), metric(t, agentMetrics, "lookout_agent_secret_cache_misses_total"); hits != runs-1 || misses != 1 {
		t.Errorf("agent cache: %v hits, %v misses; want %v and 1", hits, misses, runs-1)
	}

	leaf2 := clientCA.Issue(t, "client-v2", false)
	c.MustCLI(t, "pw-two\n", "vault", "replace-certificate", "cached", "-f", testutil.WriteFile(t, dir, "v2.p12", leaf2.PKCS12(t, clientCA, "pw-two")), "--password-stdin")
	run()
	run()
	if sealed := metric(t, ctlMetrics, "lookout_run_secrets_sealed_total"); sealed != 2 {
		t.Errorf("after a replace and two runs, %v items sealed in all; want 2 (version 2 once)", sealed)
	}
	mu.Lock()
	got := append([]string(nil), seen...)
	mu.Unlock()
	want := append(slices.Repeat([]string{fp(leaf1)}, int(runs)), fp(leaf2), fp(leaf2))
	if !slices.Equal(got, want) {
		t.Errorf("certificates presented (by fingerprint) %v, want v1 %v times then v2 twice %v", got, runs, want)
	}
	if items := metric(t, agentMetrics, "lookout_agent_secret_cache_items"); items != 1 {
		t.Errorf("agent holds %v items after the replace, want 1 (version 1 dropped)", items)
	}

	c.MustCLI(t, "", "monitor", "delete", "cached-cert")
	testutil.Eventually(t, "the agent to drop the certificate of a deleted monitor (1 s heartbeats)", 30*time.Second, func() bool {
		return metric(t, agentMetrics, "lookout_agent_secret_cache_items") == 0
	})
}
