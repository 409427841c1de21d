package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
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

// bearer sends an admin token with every call.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}
func (bearer) RequireTransportSecurity() bool { return true }

// TestBadInputEdgesAreRefusedClearly complements TestBadInputIsRefusedClearlyAndNothingIsStored
// with the mistakes it does not cover: files that are too big or absent, credential sets without a
// password, malformed durations, garbage enrollment tokens, a forged report for a real run, admin
// writes with a wrong token, and a dead controller. One controller serves every subtest; each one
// checks that nothing was stored, and the end checks the controller still serves and logged no
// secret it was sent.
func TestBadInputEdgesAreRefusedClearly(t *testing.T) {
	dir := t.TempDir()
	c := testutil.StartController(t, filepath.Join(dir, "data"))
	ca := testutil.NewCA(t, "customer CA")
	const archivePw, wrongPw, credPw = "archive-pass-5521", "not-the-archive-pass-88", "cred-secret-3390"
	archive := ca.Issue(t, "customer-client", false).PKCS12(t, ca, archivePw)
	c.MustCLI(t, "", "checkpoint", "token", "--name", "public-1", "--kind", "public")
	vaultBefore := c.MustCLI(t, "", "vault", "list")
	monitorsBefore := c.MustCLI(t, "", "monitor", "list")
	unchanged := func(t *testing.T) {
		t.Helper()
		if got := c.MustCLI(t, "", "vault", "list"); got != vaultBefore {
			t.Errorf("vault list changed after a refusal:\n%s", got)
		}
		if got := c.MustCLI(t, "", "monitor", "list"); got != monitorsBefore {
			t.Errorf("monitor list changed after a refusal:\n%s", got)
		}
	}
	refused := func(t *testing.T, r testutil.CLIResult, words ...string) {
		t.Helper()
		if r.Code == 0 {
			t.Fatalf("exit 0, want a refusal\nstdout: %s", r.Stdout)
		}
		t.Logf("refused: %s", strings.TrimSpace(r.Stderr))
		for _, w := range words {
			if !strings.Contains(strings.ToLower(r.Stderr), strings.ToLower(w)) {
				t.Errorf("message does not say %q:\n%s", w, r.Stderr)
			}
		}
	}

	t.Run("vault", func(t *testing.T) {
		big := testutil.WriteFile(t, t.TempDir(), "big.p12", make([]byte, 1<<20+1))
		missing := filepath.Join(t.TempDir(), "nowhere.p12")
		for _, tc := range []struct {
			name, stdin string
			args        []string
			words       []string
		}{
			{"archive over the size cap", archivePw + "\n", []string{"vault", "add-certificate", "--name", "big", "--file", big, "--password-stdin"},
				[]string{"--file", "big.p12", "larger than 1024 KiB"}},
			{"archive file that does not exist", archivePw + "\n", []string{"vault", "add-certificate", "--name", "gone", "--file", missing, "--password-stdin"},
				[]string{"--file", missing, "no such file"}},
			{"archive password file that does not exist", "", []string{"vault", "add-certificate", "--name", "gone", "--file",
				testutil.WriteFile(t, t.TempDir(), "a.p12", archive), "--password-file", missing}, []string{"password file", missing}},
			{"certificate without a name", archivePw + "\n", []string{"vault", "add-certificate", "--file", big, "--password-stdin"}, []string{"--name"}},
			{"credentials without a username", credPw + "\n", []string{"vault", "add-credentials", "--name", "api-user", "--password-stdin"}, []string{"--username"}},
			{"credentials without a password", "", []string{"vault", "add-credentials", "--name", "api-user", "--username", "lookout"},
				[]string{"no password", "--password-stdin", "--password-file"}},
			{"credentials with an invalid name", credPw + "\n", []string{"vault", "add-credentials", "--name", "api user!", "--username", "lookout", "--password-stdin"},
				[]string{`"api user!"`, "letters, digits"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := c.CLI(t, tc.stdin, tc.args...)
				refused(t, r, tc.words...)
				if pw := strings.TrimSpace(tc.stdin); pw != "" && strings.Contains(r.Stderr, pw) {
					t.Errorf("the message echoes the password:\n%s", r.Stderr)
				}
				unchanged(t)
			})
		}
		// A wrong password, to check afterwards that neither it nor the archive reached the log.
		r := c.CLI(t, wrongPw+"\n", "vault", "add-certificate", "--name", "customer", "--file",
			testutil.WriteFile(t, t.TempDir(), "c.p12", archive), "--password-stdin")
		refused(t, r, "password")
		if strings.Contains(r.Stderr, wrongPw) {
			t.Errorf("the message echoes the password:\n%s", r.Stderr)
		}
		unchanged(t)
	})

	t.Run("monitor durations", func(t *testing.T) {
		const step = "steps:\n  - name: s\n    request:\n      url: https://127.0.0.1:1/\n"
		const head = "name: bad\ncheckpoints: [public-1]\n"
		for _, tc := range []struct {
			name, src string
			words     []string
		}{
			{"interval is a word", head + "interval: often\ntimeout: 10s\n" + step, []string{"interval", "often"}},
			{"negative timeout", head + "interval: 1m\ntimeout: -5s\n" + step, []string{"timeout"}},
			{"step timeout is a word", head + "interval: 1m\ntimeout: 10s\n" + step + "    timeout: soon\n", []string{"steps[0].timeout", "soon"}},
			{"wait is a number without a unit", head + "interval: 1m\ntimeout: 10s\n" + step + "  - wait: 2\n", []string{"steps[1].wait"}},
			{"retry wait is a word", head + "interval: 1m\ntimeout: 10s\n" + step + "    retry: {max_attempts: 2, wait: later}\n", []string{"steps[0].retry.wait", "later"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := c.CLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, t.TempDir(), "m.yaml", []byte(tc.src)))
				refused(t, r, tc.words...)
				unchanged(t)
			})
		}
		missing := filepath.Join(t.TempDir(), "absent.yaml")
		refused(t, c.CLI(t, "", "monitor", "apply", "-f", missing), "-f", missing, "no such file")
		unchanged(t)
	})

	t.Run("enrollment with a token that is not one", func(t *testing.T) {
		_, agentBin := testutil.Binaries(t)
		for _, tc := range []struct{ name, token string }{
			{"garbage", "this-is-not-a-token"},
			{"well-formed but unknown", "lkt_" + strings.Repeat("A", 43)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, agentBin, "--controller", c.Addr,
					"--token-file", testutil.WriteFile(t, t.TempDir(), "t", []byte(tc.token)),
					"--state-dir", filepath.Join(t.TempDir(), "state"), "--ca-file", c.CAFile)
				out, err := cmd.CombinedOutput()
				if err == nil || ctx.Err() != nil {
					t.Fatalf("enrollment with a bad token: err %v (ctx %v), want a refusal\n%s", err, ctx.Err(), out)
				}
				for _, w := range []string{"token", "not valid", "checkpoint token"} {
					if !strings.Contains(string(out), w) {
						t.Errorf("the refusal does not say %q:\n%s", w, out)
					}
				}
			})
		}
		if list := c.MustCLI(t, "", "checkpoint", "list"); strings.Contains(list, "agent_") {
			t.Errorf("a refused enrollment left an agent behind:\n%s", list)
		}
	})

	caPEM, err := os.ReadFile(c.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	dialTLS := func(t *testing.T, certs []tls.Certificate, opts ...grpc.DialOption) *grpc.ClientConn {
		t.Helper()
		cc, err := grpc.NewClient(c.Addr, append(opts, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, Certificates: certs})))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		return cc
	}
	adminTok, err := os.ReadFile(c.TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	admin := pb.NewAdminServiceClient(dialTLS(t, nil, grpc.WithPerRPCCredentials(bearer(strings.TrimSpace(string(adminTok))))))

	t.Run("forged report for a real run", func(t *testing.T) {
		src := "name: forged\ninterval: 1h\ntimeout: 30s\ncheckpoints: [public-1]\nsteps:\n  - name: s\n    request:\n      url: https://127.0.0.1:1/\n"
		c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, t.TempDir(), "forged.yaml", []byte(src)))
		t.Cleanup(func() { c.MustCLI(t, "", "monitor", "delete", "forged") })
		// An enrolled instance that never claims: the run stays dispatched (a checkpoint with no
		// live instance would end it at once).
		enrollIdle(t, c, dialTLS(t, nil), "public-1", "public")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		trig, err := admin.TriggerRun(ctx, &pb.TriggerRunRequest{Monitor: "forged"})
		if err != nil || len(trig.Runs) != 1 {
			t.Fatalf("TriggerRun: %v %v", trig, err)
		}
		runID := trig.Runs[0].RunId
		stranger := ca.Issue(t, "stranger", false)
		for _, tc := range []struct {
			name  string
			certs []tls.Certificate
		}{
			{"no client certificate", nil},
			{"certificate from another CA", []tls.Certificate{{Certificate: [][]byte{stranger.Cert.Raw}, PrivateKey: stranger.Key}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := pb.NewAgentServiceClient(dialTLS(t, tc.certs)).ReportResult(ctx, &pb.ReportResultRequest{
					Result: &pb.RunResult{RunId: runID, Attempt: 1, Outcome: pb.Outcome_OUTCOME_PASSED, MonitorName: "forged"}})
				switch status.Code(err) {
				case codes.Unauthenticated, codes.PermissionDenied:
					if !strings.Contains(status.Convert(err).Message(), "certificate") {
						t.Errorf("the refusal does not say a client certificate is needed: %v", err)
					}
				case codes.Unavailable: // the TLS handshake itself refused a certificate from another CA
				default:
					t.Fatalf("ReportResult: %v, want Unauthenticated", err)
				}
				run, err := admin.GetRun(ctx, &pb.GetRunRequest{RunId: runID})
				if err != nil {
					t.Fatal(err)
				}
				if run.State == pb.RunState_RUN_STATE_DONE || run.Result != nil || run.AgentId != "" {
					t.Errorf("the forged report changed the run: state %v, agent %q, result %v", run.State, run.AgentId, run.Result)
				}
			})
		}
	})

	t.Run("wrong admin token", func(t *testing.T) {
		bad := testutil.WriteFile(t, t.TempDir(), "admin.token", []byte("not-the-token"))
		for _, args := range [][]string{
			{"vault", "add-credentials", "--name", "sneaky", "--username", "u", "--password-stdin"},
			{"checkpoint", "token", "--name", "sneaky-cp", "--kind", "public"},
			{"monitor", "delete", "forged"},
		} {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			cmd := exec.CommandContext(ctx, c.Bin, append(args, "--addr", c.Addr, "--ca-file", c.CAFile, "--token-file", bad)...)
			cmd.Stdin = strings.NewReader(credPw + "\n")
			out, err := cmd.CombinedOutput()
			hung := ctx.Err()
			cancel()
			if err == nil || hung != nil {
				t.Fatalf("%v with a wrong admin token: err %v (ctx %v)\n%s", args, err, hung, out)
			}
			for _, w := range []string{"admin token is not valid", "--token-file"} {
				if !strings.Contains(string(out), w) {
					t.Errorf("%v: message does not say %q:\n%s", args, w, out)
				}
			}
		}
		unchanged(t)
		if list := c.MustCLI(t, "", "checkpoint", "list"); strings.Contains(list, "sneaky") {
			t.Errorf("a checkpoint was created with a wrong admin token:\n%s", list)
		}
	})

	t.Run("dead controller", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := l.Addr().String()
		l.Close()
		src := testutil.WriteFile(t, t.TempDir(), "m.yaml", []byte("name: x\n"))
		for _, args := range [][]string{
			{"monitor", "apply", "-f", src},
			{"vault", "add-credentials", "--name", "x", "--username", "u", "--password-stdin"},
			{"results", "tail", "--from-start"},
		} {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			cmd := exec.CommandContext(ctx, c.Bin, append(args, "--addr", dead, "--ca-file", c.CAFile, "--token-file", c.TokenFile)...)
			cmd.Stdin = strings.NewReader(credPw + "\n")
			out, err := cmd.CombinedOutput()
			hung := ctx.Err()
			cancel()
			if err == nil || hung != nil {
				t.Fatalf("%v against a dead address: err %v (ctx %v)\n%s", args, err, hung, out)
			}
			for _, w := range []string{"cannot reach the controller at " + dead, "running", "--addr"} {
				if !strings.Contains(string(out), w) {
					t.Errorf("%v: message does not say %q:\n%s", args, w, out)
				}
			}
		}
	})

	t.Run("results tail of a monitor that does not exist", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, c.Bin, "results", "tail", "--monitor", "no-such-monitor",
			"--addr", c.Addr, "--ca-file", c.CAFile, "--token-file", c.TokenFile)
		out, err := cmd.CombinedOutput()
		if err == nil || ctx.Err() != nil {
			t.Fatalf("results tail --monitor no-such-monitor: err %v (ctx %v), want a prompt refusal\n%s", err, ctx.Err(), out)
		}
		for _, w := range []string{`no monitor named "no-such-monitor"`, "monitor list"} {
			if !strings.Contains(string(out), w) {
				t.Errorf("message does not say %q:\n%s", w, out)
			}
		}
	})

	// Still serving, and nothing secret in what it logged.
	c.MustCLI(t, "", "vault", "list")
	if c.Exited() {
		t.Fatal("the controller exited")
	}
	log := c.Output()
	for _, secret := range []string{archivePw, wrongPw, credPw, base64.StdEncoding.EncodeToString(archive[:48]), hex.EncodeToString(archive[:48])} {
		if strings.Contains(log, secret) {
			t.Errorf("the controller's log holds a secret or archive bytes that were sent to it (%.12s…)", secret)
		}
	}
}
