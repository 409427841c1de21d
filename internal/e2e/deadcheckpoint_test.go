package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// TestRunOnACheckpointWithNoLiveInstance (issue 19): `run --wait` on a checkpoint no agent serves
// answers at once with the reason, instead of waiting out the run's deadline or its own timeout.
func TestRunOnACheckpointWithNoLiveInstance(t *testing.T) {
	dir := t.TempDir()
	c := testutil.StartController(t, filepath.Join(dir, "data"))
	c.MustCLI(t, "", "checkpoint", "token", "--name", "ghost-site", "--kind", "private")
	c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, dir, "m.yaml", []byte(
		"name: haunted\ninterval: 1h\ntimeout: 5m\ncheckpoints: [ghost-site]\nsteps:\n  - request:\n      url: \"https://127.0.0.1:9/\"\n")))
	r := c.CLI(t, "", "run", "haunted", "--wait", "--timeout", "2m")
	out := r.Stdout + r.Stderr
	if r.Code == 0 || !strings.Contains(out, `no live instance of checkpoint "ghost-site"`) || strings.Contains(out, "deadline exceeded") {
		t.Fatalf("run --wait on a checkpoint without agents: exit %d\n%s\nwant a failure naming the checkpoint with no live instance", r.Code, out)
	}
}

// enrollIdle enrols an instance of checkpoint over cc (TLS, no client certificate) and sends one
// heartbeat with its certificate: the controller counts it live for one online window from now,
// but it never subscribes, so nothing claims its runs.
func enrollIdle(t *testing.T, c *testutil.Controller, cc *grpc.ClientConn, checkpoint, kind string) {
	t.Helper()
	tok := strings.TrimSpace(c.MustCLI(t, "", "checkpoint", "token", "--name", checkpoint, "--kind", kind))
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	sealing := make([]byte, 32)
	rand.Read(sealing)
	resp, err := pb.NewAgentServiceClient(cc).Enroll(t.Context(), &pb.EnrollRequest{Token: tok, CsrDer: csr, SealingPublicKey: sealing, InstanceName: "idle"})
	if err != nil {
		t.Fatalf("enrolling an idle instance of %s: %v", checkpoint, err)
	}
	block, _ := pem.Decode(resp.CertificatePem)
	if block == nil {
		t.Fatal("the enrollment answer holds no certificate")
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(resp.CaPem)
	creds := credentials.NewTLS(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{{Certificate: [][]byte{block.Bytes}, PrivateKey: key}}})
	conn, err := grpc.NewClient(c.Addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := pb.NewAgentServiceClient(conn).Heartbeat(t.Context(), &pb.HeartbeatRequest{Version: "idle"}); err != nil {
		t.Fatalf("the idle instance's heartbeat: %v", err)
	}
}
