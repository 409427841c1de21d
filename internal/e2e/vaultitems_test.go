package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// seenRequest is what the target received on one path.
type seenRequest struct {
	apiKey, contentType string
	body                []byte
	partName, partFile  string
	partType            string
	partBody            []byte
}

// itemsTarget is an HTTPS server whose certificate a private CA signed. It records what each
// path received and echoes the API key header back, in a header and in the JSON body, as
// careless servers do.
func itemsTarget(t *testing.T, ca *testutil.CA) (*httptest.Server, func(path string) seenRequest) {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]seenRequest{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seenRequest{apiKey: r.Header.Get("X-Api-Key"), contentType: r.Header.Get("Content-Type")}
		if r.URL.Path == "/upload" {
			if err := r.ParseMultipartForm(4 << 20); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if fhs := r.MultipartForm.File["doc"]; len(fhs) == 1 {
				f, _ := fhs[0].Open()
				s.partBody, _ = io.ReadAll(f)
				f.Close()
				s.partName, s.partFile, s.partType = "doc", fhs[0].Filename, fhs[0].Header.Get("Content-Type")
			}
		} else {
			s.body, _ = io.ReadAll(r.Body)
		}
		mu.Lock()
		seen[r.URL.Path] = s
		mu.Unlock()
		w.Header().Set("X-Echo", s.apiKey)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"key": s.apiKey, "size": len(s.body) + len(s.partBody)})
	}))
	leaf := ca.Issue(t, "items target", true)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key}}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, func(path string) seenRequest {
		mu.Lock()
		defer mu.Unlock()
		return seen[path]
	}
}

const itemsMonitorFile = `name: vaulted
interval: 1h
timeout: 20s
checkpoints: [items-site]
variables: {base: %q}
secret_variables: {key: partner-key}
steps:
  - name: raw
    request:
      method: POST
      url: "{{base}}/raw"
      headers: {X-Api-Key: "{{key}}"}
      body_file: %s
      tls: {ca_bundle_file: target-ca}
    extract:
      - {name: echoed, from: json, path: "$.key"}
    assert:
      - {source: status, comparison: equal, value: "200"}
      - {source: header, path: X-Echo, comparison: equal, value: "{{key}}"}
  - name: upload
    request:
      method: POST
      url: "{{base}}/upload?echo={{echoed}}"
      headers: {X-Api-Key: "{{key}}"}
      multipart:
        - {name: note, value: "sent with the file"}
        - {name: doc, file: payload}
      tls: {ca_bundle_file: target-ca}
    assert:
      - {source: status, comparison: equal, value: "200"}
`

// TestVaultSecretsAndFilesEndToEnd adds a secret and files through the CLI, runs a monitor that
// sends the secret in a header, a file as the raw body and as a multipart part, and trusts the
// target through a CA bundle file, on a real agent against a real HTTPS target. The target must
// receive the exact bytes; the stored result must show "[redacted]" and never the secret. Bad
// inputs must be refused with clear messages and leave nothing stored.
func TestVaultSecretsAndFilesEndToEnd(t *testing.T) {
	dir := t.TempDir()
	targetCA := testutil.NewCA(t, "items target CA")
	target, seen := itemsTarget(t, targetCA)
	c := testutil.StartController(t, filepath.Join(dir, "data"))
	_, agentBin := testutil.Binaries(t)
	tok := strings.TrimSpace(c.MustCLI(t, "", "checkpoint", "token", "--name", "items-site", "--kind", "private"))
	// No --target-ca-file: the agent trusts the target only through the monitor's ca_bundle_file.
	agent := testutil.Start(t, "agent items-site", agentBin, "--controller", c.Addr,
		"--token-file", testutil.WriteFile(t, dir, "agent.token", []byte(tok)),
		"--state-dir", filepath.Join(dir, "agent"), "--ca-file", c.CAFile, "--log-format", "json")
	agent.WaitFor(t, "agent to be ready", 30*time.Second, testutil.Contains(`"msg":"agent ready"`))

	const secret = "sk_e2e-Very.Secret-7731"
	payload := []byte("{\"order\": 42}\r\n\x00\xff\xfe binary tail \x80")
	c.MustCLI(t, secret+"\n", "vault", "add-secret", "partner-key", "--description", "partner API key")
	c.MustCLI(t, "", "vault", "add-file", "payload", "--file", testutil.WriteFile(t, dir, "payload.bin", payload),
		"--content-type", "application/vnd.partner+json")
	c.MustCLI(t, "", "vault", "add-file", "target-ca", "--file", testutil.WriteFile(t, dir, "target-ca.pem", targetCA.PEM()))
	c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, dir, "vaulted.yaml", fmt.Appendf(nil, itemsMonitorFile, target.URL, "payload")))

	r := c.CLI(t, "", "run", "vaulted", "--wait", "-o", "json", "--timeout", "60s")
	res := &pb.RunResult{}
	if err := protojson.Unmarshal([]byte(r.Stdout), res); err != nil {
		t.Fatalf("run: exit %d (%v)\nstdout: %s\nstderr: %s", r.Code, err, r.Stdout, r.Stderr)
	}
	if r.Code != 0 || res.Outcome != pb.Outcome_OUTCOME_PASSED {
		t.Fatalf("run: exit %d, outcome %v: %s\n%s", r.Code, res.Outcome, res.Message, r.Stdout)
	}
	raw, upload := seen("/raw"), seen("/upload")
	if raw.apiKey != secret || upload.apiKey != secret {
		t.Errorf("the target received API keys %q and %q, want the secret", raw.apiKey, upload.apiKey)
	}
	if !bytes.Equal(raw.body, payload) || raw.contentType != "application/vnd.partner+json" {
		t.Errorf("raw body: the target received %q as %q, want the file's exact bytes as application/vnd.partner+json", raw.body, raw.contentType)
	}
	if !bytes.Equal(upload.partBody, payload) || upload.partFile != "payload" || upload.partType != "application/vnd.partner+json" {
		t.Errorf("multipart part: %q named %q as %q, want the file's bytes named payload (the item name)", upload.partBody, upload.partFile, upload.partType)
	}
	if strings.Contains(r.Stdout, secret) || !strings.Contains(r.Stdout, "[redacted]") {
		t.Errorf("the stored result shows the secret, or no [redacted] marker:\n%s", r.Stdout)
	}
	if v := variable(res.Steps[0], "echoed"); v != "[redacted]" {
		t.Errorf("the extracted echo is %q, want [redacted]", v)
	}
	if strings.Contains(agent.Output(), secret) || strings.Contains(c.Output(), secret) {
		t.Error("a log line holds the secret")
	}

	// Replace through a file instead of stdin; reads show metadata and use, never the value.
	c.MustCLI(t, "", "vault", "replace-secret", "partner-key", "--value-file", testutil.WriteFile(t, dir, "key2", []byte(secret+"-two\n")))
	show := c.MustCLI(t, "", "vault", "show", "partner-key")
	if !strings.Contains(show, "version:  2") || !strings.Contains(show, "used by:  vaulted") {
		t.Errorf("vault show after replace-secret:\n%s", show)
	}
	list := c.MustCLI(t, "", "vault", "list")
	if !strings.Contains(list, fmt.Sprintf("payload, application/vnd.partner+json, %d bytes", len(payload))) {
		t.Errorf("vault list does not describe the file:\n%s", list)
	}
	for _, args := range [][]string{{"vault", "list"}, {"vault", "show", "partner-key"}, {"vault", "show", "payload"}, {"monitor", "show", "vaulted"}} {
		out := c.MustCLI(t, "", append(args, "-o", "json")...) + c.MustCLI(t, "", args...)
		if strings.Contains(out, secret) || strings.Contains(out, "binary tail") {
			t.Errorf("%s shows the secret or the file content:\n%s", strings.Join(args, " "), out)
		}
	}

	ca := testutil.NewCA(t, "items client CA")
	c.MustCLI(t, "pw\n", "vault", "add-certificate", "--name", "a-cert", "--password-stdin",
		"--file", testutil.WriteFile(t, dir, "a.p12", ca.Issue(t, "items-client", false).PKCS12(t, ca, "pw")))
	refusals := []struct {
		what, stdin string
		args        []string
		want        string
	}{
		{"missing file path", "", []string{"vault", "add-file", "nofile", "--file", filepath.Join(dir, "absent.bin")}, "absent.bin does not exist"},
		{"file over 1 MiB", "", []string{"vault", "add-file", "big", "--file", testutil.WriteFile(t, dir, "big.bin", make([]byte, 1<<20+1))},
			"larger than 1 MiB, the most a vault file item may hold"},
		{"empty secret", "\n", []string{"vault", "add-secret", "empty"}, "secret value is empty"},
		{"body_file naming a certificate", "", []string{"monitor", "apply", "-f", testutil.WriteFile(t, dir, "wrong.yaml",
			bytes.Replace(fmt.Appendf(nil, itemsMonitorFile, target.URL, "a-cert"), []byte("name: vaulted"), []byte("name: wrong"), 1))},
			`steps[0].request.body_file: vault item "a-cert" is a certificate, not a file: body_file needs a file item`},
		{"delete while used", "", []string{"vault", "delete", "payload"}, `vault item "payload" is used by monitor(s) vaulted`},
	}
	for _, tc := range refusals {
		r := c.CLI(t, tc.stdin, tc.args...)
		if r.Code == 0 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want a refusal saying %q", tc.what, r.Code, r.Stderr, tc.want)
		}
	}
	for _, args := range [][]string{{"vault", "show", "nofile"}, {"vault", "show", "big"}, {"vault", "show", "empty"}, {"monitor", "show", "wrong"}} {
		if r := c.CLI(t, "", args...); r.Code == 0 {
			t.Errorf("%s after a refusal: something was stored:\n%s", strings.Join(args, " "), r.Stdout)
		}
	}
	if r := c.CLI(t, "", "vault", "show", "payload"); r.Code != 0 || !strings.Contains(r.Stdout, "version:  1") {
		t.Errorf("the refused delete changed payload: exit %d\n%s", r.Code, r.Stdout)
	}
}
