package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/encoding/protojson"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// TestVaultReplaceAndDeleteEndToEnd replaces a certificate in use with `vault replace-certificate`
// and checks that the next run, on an agent that cached version 1, presents the new
// certificate; then that `vault delete` refuses while a monitor uses the item, naming it.
func TestVaultReplaceAndDeleteEndToEnd(t *testing.T) {
	dir := t.TempDir()
	clientCA, serverCA := testutil.NewCA(t, "vault e2e client CA"), testutil.NewCA(t, "vault e2e server CA")
	target := testutil.MTLSServer(t, serverCA, clientCA, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"client":%q}`, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	c := testutil.StartController(t, filepath.Join(dir, "data"))
	_, agentBin := testutil.Binaries(t)
	tok := strings.TrimSpace(c.MustCLI(t, "", "checkpoint", "token", "--name", "vault-site", "--kind", "private"))
	agent := testutil.Start(t, "agent vault-site", agentBin, "--controller", c.Addr,
		"--token-file", testutil.WriteFile(t, dir, "agent.token", []byte(tok)),
		"--state-dir", filepath.Join(dir, "agent"), "--ca-file", c.CAFile,
		"--target-ca-file", testutil.WriteFile(t, dir, "server-ca.pem", serverCA.PEM()), "--log-format", "json")
	agent.WaitFor(t, "agent to be ready", 30*time.Second, testutil.Contains(`"msg":"agent ready"`))

	v1 := clientCA.Issue(t, "client-v1", false).OpenSSLPKCS12(t, clientCA, "pw-one")
	c.MustCLI(t, "pw-one\n", "vault", "add-certificate", "--name", "rotating", "--file", testutil.WriteFile(t, dir, "v1.p12", v1), "--password-stdin")
	src := fmt.Sprintf(`name: uses-rotating
interval: 1h
timeout: 10s
checkpoints: [vault-site]
steps:
  - name: hello
    request:
        url: %q
        client_certificate: {source: vault, item: rotating}
    extract:
      - {name: who, from: json, path: "$.client"}
    assert:
      - {source: status, comparison: equal, value: "200"}
`, target.URL+"/hello")
	c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, dir, "monitor.yaml", []byte(src)))

	whoRan := func() string {
		t.Helper()
		r := c.CLI(t, "", "run", "uses-rotating", "--wait", "-o", "json", "--timeout", "60s")
		res := &pb.RunResult{}
		if err := protojson.Unmarshal([]byte(r.Stdout), res); err != nil || len(res.Steps) == 0 {
			t.Fatalf("run: exit %d (%v)\nstdout: %s\nstderr: %s", r.Code, err, r.Stdout, r.Stderr)
		}
		if r.Code != 0 || res.Outcome != pb.Outcome_OUTCOME_PASSED {
			t.Fatalf("run: exit %d outcome %v: %s", r.Code, res.Outcome, res.Message)
		}
		for _, v := range res.Steps[0].Variables {
			if v.Name == "who" {
				return v.Value
			}
		}
		return ""
	}
	if who := whoRan(); who != "client-v1" {
		t.Fatalf("first run presented %q, want client-v1", who)
	}

	leaf2 := clientCA.Issue(t, "client-v2", false)
	v2 := leaf2.PKCS12(t, clientCA, "pw-two")
	out := c.MustCLI(t, "pw-two\n", "vault", "replace-certificate", "rotating", "-f", testutil.WriteFile(t, dir, "v2.p12", v2), "--password-stdin", "-o", "json")
	resp := &pb.AddVaultItemResponse{}
	if err := protojson.Unmarshal([]byte(out), resp); err != nil {
		t.Fatalf("replace-certificate output: %v\n%s", err, out)
	}
	if resp.Item.GetVersion() != 2 || !strings.Contains(resp.Item.GetCertificate().GetSubject(), "client-v2") {
		t.Errorf("replace-certificate returned v%d subject %q, want v2 client-v2", resp.Item.GetVersion(), resp.Item.GetCertificate().GetSubject())
	}
	shown := &pb.VaultItem{}
	if err := protojson.Unmarshal([]byte(c.MustCLI(t, "", "vault", "show", "rotating", "-o", "json")), shown); err != nil || shown.Version != 2 {
		t.Errorf("vault show after replace: version %d (%v), want 2", shown.Version, err)
	}
	// No read or list response (JSON of every vault and monitor read, and the replace answer)
	// holds the archive, its password or the private key in any encoding.
	key := leaf2.PKCS8()
	secrets := map[string]string{
		"password": "pw-two", "archive base64": base64.StdEncoding.EncodeToString(v2), "archive raw": string(v2),
		"key raw": string(key), "key base64": base64.StdEncoding.EncodeToString(key),
		"key PEM":        string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key})),
		"first password": "pw-one", "first archive base64": base64.StdEncoding.EncodeToString(v1),
	}
	reads := map[string]string{"replace-certificate": out}
	for _, args := range [][]string{{"vault", "list"}, {"vault", "show", "rotating"}, {"monitor", "list"}, {"monitor", "show", "uses-rotating"}} {
		reads[strings.Join(args, " ")] = c.MustCLI(t, "", append(args, "-o", "json")...) + c.MustCLI(t, "", args...)
	}
	for read, body := range reads {
		for what, secret := range secrets {
			if strings.Contains(body, secret) {
				t.Errorf("%s output contains the %s", read, what)
			}
		}
	}

	if who := whoRan(); who != "client-v2" {
		t.Errorf("run after replace presented %q, want client-v2 (the agent kept version 1)", who)
	}

	// An expired certificate is accepted with a warning, and its runs end with a clear message
	// instead of the server's TLS alert.
	expiredAt := time.Now().Add(-48 * time.Hour).UTC()
	expired := datedArchive(t, clientCA, expiredAt.Add(-24*time.Hour), expiredAt, "pw-three")
	r3 := c.CLI(t, "pw-three\n", "vault", "replace-certificate", "rotating", "-f", testutil.WriteFile(t, dir, "v3.p12", expired), "--password-stdin")
	if r3.Code != 0 || !strings.Contains(r3.Stderr, "warning:") || !strings.Contains(r3.Stdout, "version:  3") {
		t.Fatalf("replacing with an expired certificate: exit %d\nstdout: %s\nstderr: %s", r3.Code, r3.Stdout, r3.Stderr)
	}
	if out := c.MustCLI(t, "", "vault", "list"); !strings.Contains(out, "WARN: EXPIRED") {
		t.Errorf("vault list does not flag the expired certificate:\n%s", out)
	}
	rr := c.CLI(t, "", "run", "uses-rotating", "--wait", "-o", "json", "--timeout", "60s")
	res := &pb.RunResult{}
	if err := protojson.Unmarshal([]byte(rr.Stdout), res); err != nil {
		t.Fatalf("run with an expired certificate: exit %d (%v)\n%s\n%s", rr.Code, err, rr.Stdout, rr.Stderr)
	}
	if want := "client certificate rotating expired on " + expiredAt.Format(time.DateOnly); rr.Code == 0 || !strings.Contains(res.Message, want) {
		t.Errorf("run with an expired certificate: exit %d, outcome %v, message %q; want %q", rr.Code, res.Outcome, res.Message, want)
	}

	// So is one that is not valid yet: its runs say from when it will be.
	validFrom := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	future := datedArchive(t, clientCA, validFrom, validFrom.Add(24*time.Hour), "pw-four")
	r4 := c.CLI(t, "pw-four\n", "vault", "replace-certificate", "rotating", "-f", testutil.WriteFile(t, dir, "v4.p12", future), "--password-stdin")
	if r4.Code != 0 || !strings.Contains(r4.Stderr, "not yet valid") || !strings.Contains(r4.Stdout, "version:  4") {
		t.Fatalf("replacing with a not-yet-valid certificate: exit %d\nstdout: %s\nstderr: %s", r4.Code, r4.Stdout, r4.Stderr)
	}
	rr = c.CLI(t, "", "run", "uses-rotating", "--wait", "-o", "json", "--timeout", "60s")
	res = &pb.RunResult{}
	if err := protojson.Unmarshal([]byte(rr.Stdout), res); err != nil {
		t.Fatalf("run with a not-yet-valid certificate: exit %d (%v)\n%s\n%s", rr.Code, err, rr.Stdout, rr.Stderr)
	}
	if want := "client certificate rotating is not valid until " + validFrom.Format(time.RFC3339); rr.Code == 0 || !strings.Contains(res.Message, want) {
		t.Errorf("run with a not-yet-valid certificate: exit %d, outcome %v, message %q; want %q", rr.Code, res.Outcome, res.Message, want)
	}

	if r := c.CLI(t, "", "vault", "replace-certificate", "nope", "-f", filepath.Join(dir, "v2.p12"), "--password-stdin"); r.Code == 0 || !strings.Contains(r.Stderr, `"nope" not found`) {
		t.Errorf("replacing a missing item: exit %d, stderr %q", r.Code, r.Stderr)
	}
	c.MustCLI(t, "pw\n", "vault", "add-credentials", "--name", "creds", "--username", "u", "--password-stdin")
	if r := c.CLI(t, "pw-two\n", "vault", "replace-certificate", "creds", "-f", filepath.Join(dir, "v2.p12"), "--password-stdin"); r.Code == 0 || !strings.Contains(r.Stderr, "is a credential set, not a certificate") {
		t.Errorf("replacing credentials with a certificate: exit %d, stderr %q", r.Code, r.Stderr)
	}
	if out := c.MustCLI(t, "pw2\n", "vault", "replace-credentials", "creds", "--username", "u2", "--password-stdin"); !strings.Contains(out, "u2") {
		t.Errorf("replace-credentials output does not show the new username:\n%s", out)
	}

	r := c.CLI(t, "", "vault", "delete", "rotating")
	if r.Code == 0 || !strings.Contains(r.Stderr, "uses-rotating") {
		t.Fatalf("deleting an item a monitor uses: exit %d, stderr %q; want a refusal naming uses-rotating", r.Code, r.Stderr)
	}
	c.MustCLI(t, "", "monitor", "delete", "uses-rotating")
	c.MustCLI(t, "", "vault", "delete", "rotating")
	if r := c.CLI(t, "", "vault", "show", "rotating"); r.Code == 0 {
		t.Errorf("vault show after delete succeeded:\n%s", r.Stdout)
	}
}

// datedArchive is a PKCS#12 archive of a client certificate ca signed, valid from notBefore to
// notAfter.
func datedArchive(t *testing.T, ca *testutil.CA, notBefore, notAfter time.Time, password string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(77), Subject: pkix.Name{CommonName: "client-expired"},
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pkcs12.Modern2023.Encode(key, cert, []*x509.Certificate{ca.Cert}, password)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVaultRotateMasterKeyEndToEnd rotates the master key of a stopped controller's data dir with
// the offline command: afterwards the old key file is refused and the new one opens the vault.
func TestVaultRotateMasterKeyEndToEnd(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	c := testutil.StartController(t, data)
	c.MustCLI(t, "pw\n", "vault", "add-credentials", "--name", "creds", "--username", "alice", "--password-stdin")
	newKey := filepath.Join(dir, "new.key")

	rotate := func() (string, int) {
		t.Helper()
		cmd := exec.Command(c.Bin, "vault", "rotate-master-key", "--data-dir", data, "--new-key-file", newKey)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return out.String(), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), 0
	}
	if out, code := rotate(); code == 0 || !strings.Contains(out, "in use by another process") {
		t.Fatalf("rotating under a running controller: exit %d, output %q; want a refusal", code, out)
	}
	c.Stop()
	if out, code := rotate(); code != 0 || !strings.Contains(out, "--master-key-file "+newKey) {
		t.Fatalf("rotate-master-key: exit %d\n%s", code, out)
	}

	old := testutil.Start(t, "controller with the old key", c.Bin, "serve", "--data-dir", data,
		"--grpc-listen", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0", "--log-format", "json")
	testutil.Eventually(t, "the controller with the old key to exit", 30*time.Second, old.Exited)
	if !strings.Contains(old.Output(), "master key does not match this data dir") {
		t.Fatalf("the controller with the old key exited without saying the key does not match; output:\n%s", old.Output())
	}

	c2 := testutil.StartController(t, data, "--master-key-file", newKey)
	if out := c2.MustCLI(t, "", "vault", "show", "creds"); !strings.Contains(out, "alice") {
		t.Errorf("vault show after rotation:\n%s", out)
	}
	c2.MustCLI(t, "pw2\n", "vault", "replace-credentials", "creds", "--username", "bob", "--password-stdin")
}

// TestVaultTamperedRecordEndToEnd flips a byte of one item's sealed record in the bbolt file while
// the controller is stopped: only the run that needs that item fails, with "secret integrity
// check failed"; a run using another item passes.
func TestVaultTamperedRecordEndToEnd(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "user" || p != "pw" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	t.Cleanup(target.Close)
	c := testutil.StartController(t, data)
	tok := strings.TrimSpace(c.MustCLI(t, "", "checkpoint", "token", "--name", "tamper-site", "--kind", "private"))
	for _, name := range []string{"intact", "tampered"} {
		c.MustCLI(t, "pw\n", "vault", "add-credentials", "--name", name, "--username", "user", "--password-stdin")
		src := fmt.Sprintf(`name: uses-%s
interval: 1h
timeout: 10s
checkpoints: [tamper-site]
steps:
  - name: get
    request:
        url: %q
        auth: {type: basic, credentials: %s}
    assert:
      - {source: status, comparison: equal, value: "200"}
`, name, target.URL, name)
		c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, dir, name+".yaml", []byte(src)))
	}
	shown := &pb.VaultItem{}
	if err := protojson.Unmarshal([]byte(c.MustCLI(t, "", "vault", "show", "tampered", "-o", "json")), shown); err != nil {
		t.Fatal(err)
	}
	c.Stop()

	db, err := bbolt.Open(filepath.Join(data, "lookout.db"), 0o600, &bbolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("vault_items"))
		key := []byte("material/" + shown.Id)
		rec := bytes.Clone(b.Get(key))
		if len(rec) == 0 {
			return fmt.Errorf("no sealed record at %s", key)
		}
		rec[len(rec)/2] ^= 0x01
		return b.Put(key, rec)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("tampering: %v", err)
	}

	c = testutil.StartController(t, data)
	_, agentBin := testutil.Binaries(t)
	agent := testutil.Start(t, "agent tamper-site", agentBin, "--controller", c.Addr,
		"--token-file", testutil.WriteFile(t, dir, "agent.token", []byte(tok)),
		"--state-dir", filepath.Join(dir, "agent"), "--ca-file", c.CAFile, "--log-format", "json")
	agent.WaitFor(t, "agent to be ready", 30*time.Second, testutil.Contains(`"msg":"agent ready"`))

	run := func(monitor string) (*pb.RunResult, int) {
		t.Helper()
		r := c.CLI(t, "", "run", monitor, "--wait", "-o", "json", "--timeout", "60s")
		res := &pb.RunResult{}
		if err := protojson.Unmarshal([]byte(r.Stdout), res); err != nil {
			t.Fatalf("run %s: exit %d (%v)\n%s\n%s", monitor, r.Code, err, r.Stdout, r.Stderr)
		}
		return res, r.Code
	}
	if res, code := run("uses-tampered"); code == 0 || !strings.Contains(res.Message, "secret integrity check failed") {
		t.Errorf("run needing the tampered item: exit %d, outcome %v, message %q; want a failure naming the integrity check", code, res.Outcome, res.Message)
	}
	if res, code := run("uses-intact"); code != 0 || res.Outcome != pb.Outcome_OUTCOME_PASSED {
		t.Errorf("run needing only the intact item: exit %d, outcome %v, message %q; want a pass", code, res.Outcome, res.Message)
	}
}
