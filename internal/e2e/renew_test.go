package e2e

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// TestAgentRenewsItsCertificate: with 15-second agent certificates, an agent renews before expiry
// (a new key and certificate in its state dir), moves its connections onto the new certificate,
// and runs keep passing after the first certificate has expired.
func TestAgentRenewsItsCertificate(t *testing.T) {
	dir := t.TempDir()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	t.Cleanup(target.Close)
	c := testutil.StartController(t, filepath.Join(dir, "data"), "--agent-cert-lifetime", "15s")
	_, agentBin := testutil.Binaries(t)
	tok := strings.TrimSpace(c.MustCLI(t, "", "checkpoint", "token", "--name", "renew-site", "--kind", "private"))
	state := filepath.Join(dir, "agent")
	agent := testutil.Start(t, "agent renew-site", agentBin, "--controller", c.Addr, "--token-file", testutil.WriteFile(t, dir, "a.token", []byte(tok)),
		"--state-dir", state, "--ca-file", c.CAFile, "--heartbeat", "1s", "--log-format", "json")
	agent.WaitFor(t, "agent to be ready", 30*time.Second, testutil.Contains(`"msg":"agent ready"`))
	readCert := func() *x509.Certificate {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(state, "client.pem"))
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(b)
		if block == nil {
			t.Fatal("client.pem holds no certificate")
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	first := readCert()
	c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, dir, "m.yaml", []byte(fmt.Sprintf(
		"name: renewing\ninterval: 1h\ncheckpoints: [renew-site]\nsteps:\n  - request:\n      url: %q\n    assert:\n      - {source: status, comparison: equal, value: \"200\"}\n", target.URL))))

	agent.WaitFor(t, "the agent to renew its certificate", 20*time.Second, testutil.Contains(`"msg":"renewed the agent certificate"`))
	// Run on until the first certificate has expired, then some: every run passes.
	runs := 0
	for time.Now().Before(first.NotAfter.Add(3 * time.Second)) {
		if r := c.CLI(t, "", "run", "renewing", "--wait", "--timeout", "30s"); r.Code != 0 {
			t.Fatalf("run %d (first certificate expires %s): exit %d\n%s%s\nagent:\n%s", runs+1, first.NotAfter.Format(time.TimeOnly), r.Code, r.Stdout, r.Stderr, agent.Output())
		}
		runs++
		time.Sleep(500 * time.Millisecond)
	}
	now := readCert()
	if now.SerialNumber.Cmp(first.SerialNumber) == 0 || !now.NotAfter.After(first.NotAfter) {
		t.Errorf("client.pem was not replaced: serial %v → %v, expiry %s → %s", first.SerialNumber, now.SerialNumber, first.NotAfter, now.NotAfter)
	}
	if now.PublicKey.(*ecdsa.PublicKey).Equal(first.PublicKey) {
		t.Error("the renewed certificate certifies the old key: renewal must use a new key")
	}
	if agent.Exited() {
		t.Fatalf("the agent exited:\n%s", agent.Output())
	}
	t.Logf("%d runs passed across the expiry of the first certificate (%s)", runs, first.NotAfter.Format(time.TimeOnly))
}
