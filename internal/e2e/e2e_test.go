package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// system is a controller with a platform certificate, a public and a private agent, and an mTLS
// target that trusts the "partner" CA (which signed both the vault certificate and the platform one).
type system struct {
	c        *testutil.Controller
	target   string
	dir      string
	partner  *testutil.CA
	agentBin string
	agents   map[string]*testutil.Proc
}

func startSystem(t *testing.T) *system {
	t.Helper()
	return startSystemWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"ok","client":%q}`, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
}

// startSystemWith is startSystem with the target's handler given.
func startSystemWith(t *testing.T, h http.Handler) *system {
	t.Helper()
	dir := t.TempDir()
	partner := testutil.NewCA(t, "partner CA")
	targetCA := testutil.NewCA(t, "target server CA")
	target := testutil.MTLSServer(t, targetCA, partner, h)
	platformPw := "platform-pass"
	platform := partner.Issue(t, "platform-client", false).PKCS12(t, partner, platformPw)
	c := testutil.StartController(t, filepath.Join(dir, "data"),
		"--platform-cert-file", testutil.WriteFile(t, dir, "platform.p12", platform),
		"--platform-cert-password-file", testutil.WriteFile(t, dir, "platform.pw", []byte(platformPw)))
	_, agentBin := testutil.Binaries(t)
	s := &system{c: c, target: target.URL, dir: dir, partner: partner, agentBin: agentBin, agents: map[string]*testutil.Proc{}}
	targetCAFile := testutil.WriteFile(t, dir, "target-ca.pem", targetCA.PEM())
	for _, cp := range []struct{ name, kind string }{{"public-1", "public"}, {"private-1", "private"}} {
		tok := strings.TrimSpace(c.MustCLI(t, "", "checkpoint", "token", "--name", cp.name, "--kind", cp.kind))
		tokFile := testutil.WriteFile(t, dir, cp.name+".token", []byte(tok))
		p := testutil.Start(t, "agent "+cp.name, agentBin, "--controller", c.Addr, "--token-file", tokFile,
			"--state-dir", filepath.Join(dir, "agent-"+cp.name), "--ca-file", c.CAFile, "--target-ca-file", targetCAFile, "--log-format", "json")
		p.WaitFor(t, "agent "+cp.name+" to be ready", 30*time.Second, testutil.Contains(`"msg":"agent ready"`))
		s.agents[cp.name] = p
	}
	return s
}

// monitor writes a monitor file with one GET step to the target and applies it.
func (s *system) monitor(t *testing.T, name, checkpoints, clientCert string) testutil.CLIResult {
	t.Helper()
	cert := ""
	if clientCert != "" {
		cert = "\n        client_certificate: " + clientCert
	}
	src := fmt.Sprintf(`name: %s
interval: 1h
timeout: 10s
checkpoints: [%s]
variables: {base: %q}
steps:
  - name: hello
    request:
        url: "{{base}}/hello"%s
    extract:
      - {name: who, from: json, path: "$.client"}
    assert:
      - {source: status, comparison: equal, value: "200"}
      - {source: json, path: "$.status", comparison: equal, value: "OK"}
`, name, checkpoints, s.target, cert)
	return s.c.CLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, t.TempDir(), name+".yaml", []byte(src)))
}

// run triggers a monitor on one checkpoint and returns its finished result and the exit code.
func (s *system) run(t *testing.T, monitor, checkpoint string) (*pb.RunResult, int) {
	t.Helper()
	r := s.c.CLI(t, "", "run", monitor, "--checkpoint", checkpoint, "--wait", "-o", "json", "--timeout", "60s")
	res := &pb.RunResult{}
	if err := protojson.Unmarshal([]byte(r.Stdout), res); err != nil {
		t.Fatalf("run %s on %s: exit %d, output is not a RunResult (%v)\nstdout: %s\nstderr: %s", monitor, checkpoint, r.Code, err, r.Stdout, r.Stderr)
	}
	return res, r.Code
}

func TestVaultAndPlatformCertificatesEndToEnd(t *testing.T) {
	s := startSystem(t)
	archive := s.partner.Issue(t, "partner-client", false).OpenSSLPKCS12(t, s.partner, "s3cret")
	s.c.MustCLI(t, "s3cret\n", "vault", "add-certificate", "--name", "partner-cert", "--file", testutil.WriteFile(t, s.dir, "partner.p12", archive), "--password-stdin")

	if r := s.monitor(t, "vault-mtls", "public-1, private-1", "{source: vault, item: partner-cert}"); r.Code != 0 {
		t.Fatalf("apply vault-mtls: %s", r.Stderr)
	}
	if r := s.monitor(t, "platform-mtls", "public-1", "{source: platform}"); r.Code != 0 {
		t.Fatalf("apply platform-mtls: %s", r.Stderr)
	}
	if r := s.monitor(t, "no-cert", "public-1, private-1", ""); r.Code != 0 {
		t.Fatalf("apply no-cert: %s", r.Stderr)
	}

	t.Run("vault certificate passes from both agents", func(t *testing.T) {
		for _, cp := range []string{"public-1", "private-1"} {
			res, code := s.run(t, "vault-mtls", cp)
			if code != 0 || res.Outcome != pb.Outcome_OUTCOME_PASSED {
				t.Fatalf("%s: exit %d, outcome %v: %s", cp, code, res.Outcome, res.Message)
			}
			st := res.Steps[0]
			if st.ClientCertificate.GetSubject() == "" || !strings.Contains(st.ClientCertificate.Subject, "partner-client") {
				t.Errorf("%s: step reports client certificate %v, want partner-client", cp, st.ClientCertificate)
			}
			if got := variable(st, "who"); got != "partner-client" {
				t.Errorf("%s: extracted who = %q, want partner-client (the target saw another certificate)", cp, got)
			}
			if res.CheckpointName != cp || res.AgentId == "" {
				t.Errorf("result names checkpoint %q agent %q, want %s and an agent id", res.CheckpointName, res.AgentId, cp)
			}
		}
	})

	t.Run("without a certificate the step fails with a TLS error", func(t *testing.T) {
		for _, cp := range []string{"public-1", "private-1"} {
			res, code := s.run(t, "no-cert", cp)
			if code == 0 || res.Outcome != pb.Outcome_OUTCOME_FAILED {
				t.Fatalf("%s: exit %d outcome %v, want a failed run", cp, code, res.Outcome)
			}
			if res.ErrorClass != pb.ErrorClass_ERROR_CLASS_TLS || !strings.Contains(strings.ToLower(res.Message), "certificate") {
				t.Errorf("%s: error class %v message %q, want a TLS error about the client certificate", cp, res.ErrorClass, res.Message)
			}
		}
	})

	t.Run("platform certificate passes from the public agent", func(t *testing.T) {
		res, code := s.run(t, "platform-mtls", "public-1")
		if code != 0 || res.Outcome != pb.Outcome_OUTCOME_PASSED {
			t.Fatalf("exit %d outcome %v: %s", code, res.Outcome, res.Message)
		}
		if got := variable(res.Steps[0], "who"); got != "platform-client" {
			t.Errorf("target saw client %q, want platform-client", got)
		}
	})

	t.Run("platform certificate on a private checkpoint is refused at apply", func(t *testing.T) {
		r := s.monitor(t, "platform-everywhere", "public-1, private-1", "{source: platform}")
		if r.Code == 0 {
			t.Fatal("monitor apply accepted the platform certificate on a private checkpoint")
		}
		for _, want := range []string{"steps[0].request.client_certificate", "private-1", "platform certificate cannot be used on private checkpoint"} {
			if !strings.Contains(r.Stderr, want) {
				t.Errorf("apply error does not mention %q:\n%s", want, r.Stderr)
			}
		}
		if list := s.c.MustCLI(t, "", "monitor", "list"); strings.Contains(list, "platform-everywhere") {
			t.Errorf("the refused monitor was stored:\n%s", list)
		}
	})

	t.Run("results stream to collectors", func(t *testing.T) {
		out := s.c.MustCLI(t, "", "results", "tail", "--from-start", "--monitor", "platform-mtls", "--count", "1", "-o", "json")
		res := &pb.RunResult{}
		if err := protojson.Unmarshal([]byte(out), res); err != nil || res.MonitorName != "platform-mtls" {
			t.Fatalf("results tail gave %q (%v), want a platform-mtls result", out, err)
		}
	})

	t.Run("checkpoint list shows both agents online", func(t *testing.T) {
		out := s.c.MustCLI(t, "", "checkpoint", "list", "-o", "json")
		var list struct {
			Checkpoints []struct {
				Name   string
				Kind   string
				Agents []struct{ Online bool }
			}
		}
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Checkpoints) != 2 {
			t.Fatalf("checkpoint list: %s", out)
		}
		for _, cp := range list.Checkpoints {
			if len(cp.Agents) != 1 || !cp.Agents[0].Online {
				t.Errorf("checkpoint %s: agents %+v, want one online", cp.Name, cp.Agents)
			}
		}
	})
}

func variable(st *pb.StepResult, name string) string {
	for _, v := range st.Variables {
		if v.Name == name {
			return v.Value
		}
	}
	return ""
}
