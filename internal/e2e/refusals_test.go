package e2e

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// TestBadInputIsRefusedClearlyAndNothingIsStored drives one controller through the admin CLI with
// the mistakes users make. Each is refused with a message that says what was wrong, nothing is
// stored, no secret that was sent shows up in the controller's log, and the controller keeps
// serving.
func TestBadInputIsRefusedClearlyAndNothingIsStored(t *testing.T) {
	dir := t.TempDir()
	c := testutil.StartController(t, filepath.Join(dir, "data"))
	ca := testutil.NewCA(t, "customer CA")
	leaf := ca.Issue(t, "customer-client", false)
	const goodPw, wrongPw = "right-horse-battery", "wrong-staple-7731"
	good := leaf.PKCS12(t, ca, goodPw)
	noKey := leaf.OpenSSLPKCS12(t, ca, goodPw, "-nokeys")
	junk := make([]byte, 4096)
	_, _ = rand.Read(junk)
	emptyVault := c.MustCLI(t, "", "vault", "list")
	c.MustCLI(t, "", "checkpoint", "token", "--name", "public-1", "--kind", "public")
	emptyMonitors := c.MustCLI(t, "", "monitor", "list")

	addCert := func(t *testing.T, name string, archive []byte, pw string) testutil.CLIResult {
		t.Helper()
		return c.CLI(t, pw+"\n", "vault", "add-certificate", "--name", name, "--file",
			testutil.WriteFile(t, t.TempDir(), "a.p12", archive), "--password-stdin")
	}
	refused := func(t *testing.T, r testutil.CLIResult, words ...string) {
		t.Helper()
		if r.Code == 0 {
			t.Fatalf("exit 0, want a refusal\nstdout: %s", r.Stdout)
		}
		for _, w := range words {
			if !strings.Contains(strings.ToLower(r.Stderr), strings.ToLower(w)) {
				t.Errorf("message does not say %q:\n%s", w, r.Stderr)
			}
		}
	}

	t.Run("vault", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			archive []byte
			pw      string
			words   []string
		}{
			{"wrong password", good, wrongPw, []string{"password is incorrect"}},
			{"a PEM certificate, not an archive", ca.PEM(), goodPw, []string{"PEM", "openssl pkcs12 -export"}},
			{"random bytes", junk, goodPw, []string{"PKCS#12"}},
			{"empty file", nil, goodPw, []string{"empty"}},
			{"archive without a private key", noKey, goodPw, []string{"no private key"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := addCert(t, "customer", tc.archive, tc.pw)
				refused(t, r, tc.words...)
				if strings.Contains(r.Stderr, tc.pw) {
					t.Errorf("the message echoes the password:\n%s", r.Stderr)
				}
				if got := c.MustCLI(t, "", "vault", "list"); got != emptyVault {
					t.Errorf("vault list changed after a refused upload:\n%s", got)
				}
			})
		}
		t.Run("duplicate name", func(t *testing.T) {
			if r := addCert(t, "dup", good, goodPw); r.Code != 0 {
				t.Fatalf("first upload: %s", r.Stderr)
			}
			listed := c.MustCLI(t, "", "vault", "list")
			refused(t, addCert(t, "dup", good, goodPw), "already")
			if got := c.MustCLI(t, "", "vault", "list"); got != listed {
				t.Errorf("vault list changed after a refused duplicate:\n%s", got)
			}
		})
	})

	t.Run("monitor", func(t *testing.T) {
		const head = "name: bad\ninterval: 1m\ntimeout: 10s\ncheckpoints: [public-1]\nsteps:\n"
		for _, tc := range []struct {
			name, src string
			words     []string
		}{
			{"unknown field", head + "  - name: s\n    request:\n      uri: https://127.0.0.1:1/\n", []string{"steps[0].request.uri", "unknown field", "line 8"}},
			{"missing url", head + "  - name: s\n    request:\n      method: GET\n", []string{"steps[0].request.url"}},
			{"unknown vault item", head + "  - name: s\n    request:\n      url: https://127.0.0.1:1/\n      client_certificate: {source: vault, item: nope}\n",
				[]string{"nope", "vault add-certificate"}},
			{"unknown checkpoint", strings.Replace(head, "public-1", "mars-1", 1) + "  - name: s\n    request:\n      url: https://127.0.0.1:1/\n", []string{"mars-1"}},
			{"interval without a unit", strings.Replace(head, "1m", "30", 1) + "  - name: s\n    request:\n      url: https://127.0.0.1:1/\n", []string{"interval", "30s"}},
			{"not YAML", "name: [unclosed\n", []string{"line"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := c.CLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, t.TempDir(), "m.yaml", []byte(tc.src)))
				refused(t, r, tc.words...)
				if got := c.MustCLI(t, "", "monitor", "list"); got != emptyMonitors {
					t.Errorf("monitor list changed after a refused apply:\n%s", got)
				}
			})
		}
	})

	t.Run("enrollment token used twice", func(t *testing.T) {
		_, agentBin := testutil.Binaries(t)
		tok := strings.TrimSpace(c.MustCLI(t, "", "checkpoint", "token", "--name", "private-1", "--kind", "private"))
		tokFile := testutil.WriteFile(t, dir, "private-1.token", []byte(tok))
		first := testutil.Start(t, "agent 1", agentBin, "--controller", c.Addr, "--token-file", tokFile,
			"--state-dir", filepath.Join(dir, "agent-1"), "--ca-file", c.CAFile, "--log-format", "json")
		first.WaitFor(t, "the first agent to be ready", 30*time.Second, testutil.Contains(`"msg":"agent ready"`))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, agentBin, "--controller", c.Addr, "--token-file", tokFile,
			"--state-dir", filepath.Join(dir, "agent-2"), "--ca-file", c.CAFile).CombinedOutput()
		if err == nil || ctx.Err() != nil {
			t.Fatalf("second enrollment with the same token: err %v (ctx %v), want a refusal\n%s", err, ctx.Err(), out)
		}
		if !strings.Contains(string(out), "already used") {
			t.Errorf("the refusal does not say the token was already used:\n%s", out)
		}
		if strings.Contains(string(out), tok) {
			t.Errorf("the refusal echoes the token")
		}
	})

	t.Run("caller without an agent certificate cannot report", func(t *testing.T) {
		caPEM, err := os.ReadFile(c.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		caPool := x509.NewCertPool()
		caPool.AppendCertsFromPEM(caPEM)
		other := tls.Certificate{Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key}
		for _, tc := range []struct {
			name  string
			certs []tls.Certificate
		}{
			{"no client certificate", nil},
			{"certificate from another CA", []tls.Certificate{other}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				cc, err := grpc.NewClient(c.Addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: caPool, Certificates: tc.certs})))
				if err != nil {
					t.Fatal(err)
				}
				defer cc.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_, err = pb.NewAgentServiceClient(cc).ReportResult(ctx, &pb.ReportResultRequest{Result: &pb.RunResult{RunId: "run_forged", Attempt: 1, Outcome: pb.Outcome_OUTCOME_PASSED}})
				switch status.Code(err) {
				case codes.Unauthenticated, codes.PermissionDenied, codes.Unavailable:
					// Unavailable: the TLS handshake itself was refused (a client cert from another CA).
				default:
					t.Fatalf("ReportResult: %v, want Unauthenticated", err)
				}
			})
		}
	})

	t.Run("wrong admin token", func(t *testing.T) {
		bad := testutil.WriteFile(t, t.TempDir(), "admin.token", []byte("not-the-token"))
		cmd := exec.Command(c.Bin, "vault", "list", "--addr", c.Addr, "--ca-file", c.CAFile, "--token-file", bad)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(strings.ToLower(string(out)), "token") {
			t.Fatalf("vault list with a wrong admin token: %v\n%s", err, out)
		}
	})

	t.Run("admin CLI without a controller to talk to", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := l.Addr().String()
		l.Close() // nothing listens there now
		for _, tc := range []struct {
			name  string
			args  []string
			words []string
		}{
			{"dead address", []string{"vault", "list", "--addr", dead, "--ca-file", c.CAFile, "--token-file", c.TokenFile}, []string{"cannot reach the controller at " + dead, "--addr"}},
			{"no CA file", []string{"vault", "list", "--addr", c.Addr, "--token-file", c.TokenFile}, []string{"--ca-file", "LOOKOUT_CA_FILE"}},
			{"kind misspelt", []string{"checkpoint", "token", "--name", "x", "--kind", "privte", "--addr", c.Addr, "--ca-file", c.CAFile, "--token-file", c.TokenFile}, []string{`not "privte"`}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, c.Bin, tc.args...)
				cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()} // no LOOKOUT_* from the environment
				out, err := cmd.CombinedOutput()
				if err == nil || ctx.Err() != nil {
					t.Fatalf("exit ok or hung (%v, ctx %v):\n%s", err, ctx.Err(), out)
				}
				for _, w := range tc.words {
					if !strings.Contains(string(out), w) {
						t.Errorf("message does not say %q:\n%s", w, out)
					}
				}
			})
		}
	})

	// Still serving, and nothing secret in what it logged.
	c.MustCLI(t, "", "vault", "list")
	for _, secret := range []string{goodPw, wrongPw} {
		if strings.Contains(c.Output(), secret) {
			t.Errorf("the controller's log holds a password that was sent to it")
		}
	}
	if c.Exited() {
		t.Fatal("the controller exited")
	}
}
