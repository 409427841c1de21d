package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// TestRefusalsAreAuditedMergedAndWithoutSecrets (issue 19): a bad and a revoked API token, a
// monitor file that does not apply, a wrong archive password and a bad enrollment token are each
// refused, over real gRPC and the CLI, several times. `audit` shows each kind once as it
// happened, then once with the count of the repeats merged within the interval, naming the
// source (a revoked token by its name, with the peer's address), and never what was presented.
func TestRefusalsAreAuditedMergedAndWithoutSecrets(t *testing.T) {
	dir := t.TempDir()
	c := testutil.StartController(t, filepath.Join(dir, "data"))
	c.MustCLI(t, "", "checkpoint", "token", "--name", "site-r", "--kind", "private")

	const badToken = "lkt_0000000000000000000000000000000000000000000000000000000000badbad"
	revoked := strings.TrimSpace(c.MustCLI(t, "", "token", "create", "--name", "ci-old", "--scope", "admin"))
	c.MustCLI(t, "", "token", "revoke", "ci-old")
	const wrongPassword = "not-the-archive-password-4711"
	const badEnrollToken = "enroll-token-that-was-never-made-0123456789"

	with := func(token string, n int) {
		file := testutil.WriteFile(t, dir, fmt.Sprintf("tok-%d", n), []byte(token))
		for range n {
			if r := c.CLI(t, "", "monitor", "list", "--token-file", file); r.Code == 0 {
				t.Fatalf("monitor list with a refused token passed:\n%s", r.Stdout)
			}
		}
	}
	with(badToken, 3)
	with(revoked, 2)
	bad := testutil.WriteFile(t, dir, "bad.yaml", []byte("name: refused\ninterval: 1h\ncheckpoints: [no-such-site]\nsteps:\n  - request:\n      url: \"https://127.0.0.1:9/\"\n"))
	for range 4 {
		if r := c.CLI(t, "", "monitor", "apply", "-f", bad); r.Code == 0 {
			t.Fatal("a monitor naming an unknown checkpoint was applied")
		}
	}
	archive := testutil.WriteFile(t, dir, "client.p12", archiveFor(t, "right-password"))
	for range 2 {
		if r := c.CLI(t, wrongPassword+"\n", "vault", "add-certificate", "--name", "partner", "--file", archive, "--password-stdin"); r.Code == 0 {
			t.Fatal("an archive was added with the wrong password")
		}
	}
	enroll := enrollClient(t, c)
	for range 3 {
		if _, err := enroll.Enroll(t.Context(), &pb.EnrollRequest{Token: badEnrollToken, CsrDer: newCSR(t), SealingPublicKey: make([]byte, 32), InstanceName: "stray"}); err == nil {
			t.Fatal("an enrollment with a made-up token passed")
		}
	}

	want := map[string]struct {
		actor   string
		repeats int
	}{
		"denied_token":              {"unknown token from 127.0.0.1", 2},
		"rejected_monitor_apply":    {"admin from 127.0.0.1", 3},
		"rejected_archive_password": {"admin from 127.0.0.1", 1},
		"denied_enroll":             {"unknown enrollment token from 127.0.0.1", 2},
	}
	var out string
	merged := regexp.MustCompile(`(\d+) more refused since`)
	// The repeats are written as one entry when the merging interval (10 s) ends.
	testutil.Eventually(t, "the merged entries of the repeated refusals", 60*time.Second, func() bool {
		out = c.MustCLI(t, "", "audit", "--since", "1h")
		return strings.Count(out, "more refused since") >= len(want)+1
	})
	lines := strings.Split(out, "\n")
	for action, w := range want {
		var first, counted []string
		for _, l := range lines {
			if strings.Contains(l, action) && strings.Contains(l, w.actor) {
				if m := merged.FindStringSubmatch(l); m != nil {
					counted = append(counted, m[1])
				} else {
					first = append(first, l)
				}
			}
		}
		if len(first) != 1 || len(counted) != 1 || counted[0] != fmt.Sprint(w.repeats) {
			t.Errorf("%s by %s: %d entries as it happened and repeats %v, want 1 and [%d]", action, w.actor, len(first), counted, w.repeats)
		}
	}
	if n := strings.Count(out, "token:ci-old from 127.0.0.1"); n != 2 || !strings.Contains(out, "1 more refused since") {
		t.Errorf("the revoked token appears %d times by name, want its first refusal and one merged entry", n)
	}
	for name, secret := range map[string]string{"bad token": badToken, "revoked token": revoked, "archive password": wrongPassword, "enrollment token": badEnrollToken} {
		if strings.Contains(out, secret) {
			t.Errorf("audit shows the %s %q", name, secret)
		}
	}
	t.Logf("audit:\n%s", out)
}

func archiveFor(t *testing.T, password string) []byte {
	t.Helper()
	ca := testutil.NewCA(t, "refusals CA")
	leaf := ca.Issue(t, "partner", false)
	b, err := pkcs12.Modern2023.Encode(leaf.Key, leaf.Cert, []*x509.Certificate{ca.Cert}, password)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// enrollClient is an AgentService client over TLS without a client certificate, as an agent
// that has not enrolled yet has.
func enrollClient(t *testing.T, c *testutil.Controller) pb.AgentServiceClient {
	t.Helper()
	caPEM, err := os.ReadFile(c.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cc, err := grpc.NewClient(c.Addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return pb.NewAgentServiceClient(cc)
}

func newCSR(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}
