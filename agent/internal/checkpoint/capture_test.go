package checkpoint

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/lookout-synthetics/lookout/agent/internal/identity"
	"github.com/lookout-synthetics/lookout/agent/internal/runner"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// tappedAgent is an agent running in this process, with everything it received and logged.
type tappedAgent struct {
	id       *identity.Identity
	cap      *capture
	logs     *syncBuffer
	stateDir string
}

// startTappedAgent enrols an agent for a new checkpoint of kind through the real controller, and
// runs it in-process with a Tap and a debug-level logger (text and JSON) writing to a buffer.
func startTappedAgent(t *testing.T, c *testutil.Controller, name, kind string, targetCA *testutil.CA) *tappedAgent {
	t.Helper()
	tok := strings.TrimSpace(c.MustCLI(t, "", "checkpoint", "token", "--name", name, "--kind", kind))
	caPEM, err := os.ReadFile(c.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	ta := &tappedAgent{cap: &capture{}, logs: &syncBuffer{}, stateDir: filepath.Join(t.TempDir(), "agent-"+name)}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ta.id, err = identity.Enroll(ctx, identity.EnrollOptions{Controller: c.Addr, Token: tok, CAPEM: caPEM, StateDir: ta.stateDir, InstanceName: name, Version: "test"})
	if err != nil {
		t.Fatalf("enrolling %s: %v", name, err)
	}
	if ta.id.Kind != kind {
		t.Fatalf("%s enrolled as %q, want %q", name, ta.id.Kind, kind)
	}
	debug := &slog.HandlerOptions{Level: slog.LevelDebug}
	log := slog.New(slog.NewMultiHandler(slog.NewTextHandler(ta.logs, debug), slog.NewJSONHandler(ta.logs, debug)))
	a, err := New(Options{Identity: ta.id, Version: "test", Logger: log, Runner: runner.Options{RootCAs: targetCA.Pool()}, Tap: ta.cap.tap})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("agent %s: %v", name, err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("agent %s did not stop within 15s of its context ending", name)
		}
	})
	ta.waitLog(t, done, `msg="agent ready"`)
	return ta
}

// waitLog polls the agent's log for sub for up to 30s.
func (ta *tappedAgent) waitLog(t *testing.T, done <-chan error, sub string) {
	t.Helper()
	testutil.EventuallyValue(t, fmt.Sprintf("agent %s to log %q", ta.id.CheckpointName, sub), 30*time.Second, func() ([]byte, error) {
		logs := ta.logs.Bytes()
		if bytes.Contains(logs, []byte(sub)) {
			return logs, nil
		}
		select {
		case err := <-done:
			t.Fatalf("agent %s stopped before logging %q: %v\n%s", ta.id.CheckpointName, sub, err, ta.logs.Bytes())
		default:
		}
		return logs, fmt.Errorf("its log so far:\n%s", logs)
	})
}

// everything is what the agent received, logged and wrote to its state dir.
func (ta *tappedAgent) everything(t *testing.T) []hay {
	t.Helper()
	hays := append(ta.cap.all(), hay{"agent log", ta.logs.Bytes()})
	err := filepath.WalkDir(ta.stateDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		hays = append(hays, hay{"state file " + d.Name(), b})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return hays
}

func applyMonitor(t *testing.T, c *testutil.Controller, name, checkpoints, base, clientCert string) testutil.CLIResult {
	t.Helper()
	src := fmt.Sprintf(`name: %s
interval: 1h
timeout: 10s
checkpoints: [%s]
variables: {base: %q}
steps:
  - name: hello
    request:
        url: "{{base}}/hello"
        client_certificate: %s
    extract:
      - {name: who, from: json, path: "$.client"}
    assert:
      - {source: status, comparison: equal, value: "200"}
`, name, checkpoints, base, clientCert)
	return c.CLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, t.TempDir(), name+".yaml", []byte(src)))
}

// runOn triggers monitor on one checkpoint, waits, and checks it passed with the expected client.
func runOn(t *testing.T, c *testutil.Controller, monitor, checkpoint, wantClient string) {
	t.Helper()
	r := c.CLI(t, "", "run", monitor, "--checkpoint", checkpoint, "--wait", "-o", "json", "--timeout", "60s")
	res := &pb.RunResult{}
	if err := protojson.Unmarshal([]byte(r.Stdout), res); err != nil {
		t.Fatalf("run %s on %s: exit %d, not a RunResult (%v)\nstdout: %s\nstderr: %s", monitor, checkpoint, r.Code, err, r.Stdout, r.Stderr)
	}
	if r.Code != 0 || res.Outcome != pb.Outcome_OUTCOME_PASSED {
		// Not fatal: the searches below still say what reached the agents.
		t.Errorf("run %s on %s: exit %d, outcome %v, class %v: %s", monitor, checkpoint, r.Code, res.Outcome, res.ErrorClass, res.Message)
		return
	}
	var who string
	for _, v := range res.Steps[0].GetVariables() {
		if v.Name == "who" {
			who = v.Value
		}
	}
	if who != wantClient {
		t.Errorf("run %s on %s: the target saw client %q, want %q", monitor, checkpoint, who, wantClient)
	}
}

// TestPlatformKeyNeverReachesAPrivateCheckpoint is DESIGN §5 (4): with the real controller holding a
// platform certificate, everything a private agent receives (NATS run requests, gRPC answers,
// unsealed secrets), logs (debug level) and keeps in its state dir is searched for every form of the
// platform key, archive and password, and none is there; the same search finds the platform key in
// what a public agent received, and the vault key in what the private agent received.
func TestPlatformKeyNeverReachesAPrivateCheckpoint(t *testing.T) {
	dir := t.TempDir()
	partner := testutil.NewCA(t, "partner CA")
	targetCA := testutil.NewCA(t, "target server CA")
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"client":%q}`, r.TLS.PeerCertificates[0].Subject.CommonName)
	})
	// Both agents call target; only the private one calls privateTarget, through a proxy that keeps
	// every byte of its TLS connections. Each server records the client certificates it was shown.
	var shown, shownPrivately presented
	target := testutil.MTLSServer(t, targetCA, partner, shown.wrap(hello))
	privateTarget := testutil.MTLSServer(t, targetCA, partner, shownPrivately.wrap(hello))
	wire := startRecordingProxy(t, strings.TrimPrefix(privateTarget.URL, "https://"))

	platform := partner.Issue(t, "platform-client", false)
	platformPw := randomText(t, "platform-pw-")
	platformArchive := platform.PKCS12(t, partner, platformPw)
	c := testutil.StartController(t, filepath.Join(dir, "data"), "--log-level", "debug",
		"--platform-cert-file", testutil.WriteFile(t, dir, "platform.p12", platformArchive),
		"--platform-cert-password-file", testutil.WriteFile(t, dir, "platform.pw", []byte(platformPw)))

	vault := partner.Issue(t, "vault-client", false)
	vaultPw := randomText(t, "vault-pw-")
	c.MustCLI(t, vaultPw+"\n", "vault", "add-certificate", "--name", "partner-cert",
		"--file", testutil.WriteFile(t, dir, "vault.p12", vault.PKCS12(t, partner, vaultPw)), "--password-stdin")

	public := startTappedAgent(t, c, "public-1", "public", targetCA)
	private := startTappedAgent(t, c, "private-1", "private", targetCA)

	if r := applyMonitor(t, c, "vault-mtls", "public-1, private-1", target.URL, "{source: vault, item: partner-cert}"); r.Code != 0 {
		t.Fatalf("apply vault-mtls: %s", r.Stderr)
	}
	if r := applyMonitor(t, c, "platform-mtls", "public-1", target.URL, "{source: platform}"); r.Code != 0 {
		t.Fatalf("apply platform-mtls: %s", r.Stderr)
	}
	r := applyMonitor(t, c, "platform-private", "private-1", target.URL, "{source: platform}")
	if r.Code == 0 {
		t.Fatal("monitor apply accepted the platform certificate on private checkpoint private-1")
	}
	for _, want := range []string{"steps[0].request.client_certificate", "private-1", "platform certificate cannot be used on private checkpoint", "private key never leaves"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, r.Stderr)
		}
	}
	if r := c.CLI(t, "", "run", "platform-mtls", "--checkpoint", "private-1"); r.Code == 0 || !strings.Contains(r.Stderr, "does not run from checkpoint") {
		t.Errorf("run platform-mtls --checkpoint private-1: exit %d, want a refusal naming the checkpoint:\n%s", r.Code, r.Stderr)
	}

	if r := applyMonitor(t, c, "private-wire", "private-1", "https://"+wire.lis.Addr().String(), "{source: vault, item: partner-cert}"); r.Code != 0 {
		t.Fatalf("apply private-wire: %s", r.Stderr)
	}
	runOn(t, c, "vault-mtls", "private-1", "vault-client")
	runOn(t, c, "private-wire", "private-1", "vault-client")
	runOn(t, c, "vault-mtls", "public-1", "vault-client")
	runOn(t, c, "platform-mtls", "public-1", "platform-client")

	// The tap records the ReportResult answer just after the controller stored the result, which
	// the CLI may have seen first: give it a bounded moment.
	testutil.Eventually(t, "the tap to record a ReportResult answer", 10*time.Second, func() bool {
		return private.cap.count("grpc:/lookout.v1.AgentService/ReportResult") > 0
	})
	platformForms := append(keyNeedles(t, "platform key", platform.Key), archiveNeedles("platform", platformArchive, platformPw)...)
	vaultKey := keyNeedles(t, "vault key", vault.Key)
	got := private.everything(t)

	t.Run("the private agent received its runs and secrets", func(t *testing.T) {
		for _, ch := range []string{"nats:", "grpc:/lookout.v1.AgentService/FetchRunSecrets", "grpc:/lookout.v1.AgentService/ReportResult", "unsealed:"} {
			if private.cap.count(ch) == 0 {
				t.Errorf("nothing captured on %s", ch)
			}
		}
		if hits := findSecrets(vaultKey, private.cap.all()); !containsPrefix(hits, "vault key PKCS#8 raw DER/bytes in unsealed:") {
			t.Errorf("the vault key's PKCS#8 was not found in the private agent's unsealed secrets (found %v): the tap or the search is blind", hits)
		}
		for _, msg := range []string{`msg="agent ready"`, `msg="step finished"`, `"msg":"run finished"`} {
			if !bytes.Contains(private.logs.Bytes(), []byte(msg)) {
				t.Errorf("the private agent's debug log lacks %s", msg)
			}
		}
	})

	t.Run("no form of the platform key, archive or password reaches the private agent", func(t *testing.T) {
		if hits := findSecrets(platformForms, got); len(hits) > 0 {
			t.Errorf("found in what the private agent received, logged or stored:\n%s", strings.Join(hits, "\n"))
		}
	})

	t.Run("no vault key in the private agent's log or state", func(t *testing.T) {
		var notTap []hay
		for _, h := range got {
			if h.channel == "agent log" || strings.HasPrefix(h.channel, "state file") {
				notTap = append(notTap, h)
			}
		}
		if hits := findSecrets(vaultKey, notTap); len(hits) > 0 {
			t.Errorf("the vault key was written out:\n%s", strings.Join(hits, "\n"))
		}
	})

	t.Run("positive control: the same search finds the platform key on the public agent", func(t *testing.T) {
		hits := findSecrets(platformForms, public.everything(t))
		if !containsPrefix(hits, "platform key PKCS#8 raw DER/bytes in unsealed:") {
			t.Errorf("the platform key's PKCS#8 was not found in the public agent's unsealed secrets (found %v)", hits)
		}
		for _, h := range hits {
			if !strings.Contains(h, " in unsealed:") {
				t.Errorf("the public agent has platform material outside the unsealed secrets: %s", h)
			}
		}
	})

	t.Run("the private agent's TLS handshakes never present the platform certificate", func(t *testing.T) {
		bad, all := shownPrivately.withKey(platform.Key.Public())
		if all == 0 {
			t.Fatal("the private agent's target saw no client certificate: this test would prove nothing")
		}
		if bad > 0 {
			t.Errorf("the private agent presented the platform certificate %d time(s)", bad)
		}
		raw := wire.captured()
		if len(raw) == 0 {
			t.Fatal("the proxy recorded nothing")
		}
		if hits := findSecrets(platformForms, []hay{{"private agent's TLS connections", raw}}); len(hits) > 0 {
			t.Errorf("found on the wire of the private agent's TLS connections:\n%s", strings.Join(hits, "\n"))
		}
		// Positive control: the public agent's platform run did present it, and the server saw it.
		if n, _ := shown.withKey(platform.Key.Public()); n == 0 {
			t.Error("no server saw the platform certificate presented, not even by the public agent: the check is blind")
		}
	})

	t.Run("the controller's TLS certificate is not the platform certificate", func(t *testing.T) {
		conn, err := tls.Dial("tcp", c.Addr, &tls.Config{RootCAs: private.id.CAPool, MinVersion: tls.VersionTLS12})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for _, cert := range conn.ConnectionState().PeerCertificates {
			if k, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); ok && k.Equal(platform.Key.Public()) {
				t.Errorf("the controller presents a certificate (%s) with the platform key", cert.Subject)
			}
		}
	})

	t.Run("the controller's log holds no form of the platform secrets", func(t *testing.T) {
		if hits := findSecrets(platformForms, []hay{{"controller log", []byte(c.Output())}}); len(hits) > 0 {
			t.Errorf("found in the controller's log:\n%s", strings.Join(hits, "\n"))
		}
	})
}

func containsPrefix(hits []string, prefix string) bool {
	for _, h := range hits {
		if strings.HasPrefix(h, prefix) {
			return true
		}
	}
	return false
}

func randomText(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}
