package api_test

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/lookout-synthetics/lookout/controller/internal/server"
	"github.com/lookout-synthetics/lookout/controller/internal/store"
	"github.com/lookout-synthetics/lookout/internal/natsbus"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/sealing"
)

// controller is a real controller (gRPC over TLS on loopback, embedded NATS, bbolt in a temp dir)
// started in this process, with an admin client.
type controller struct {
	srv     *server.Server
	dataDir string
	caPool  *x509.CertPool
	admin   pb.AdminServiceClient
	tok     string // the bootstrap admin token
	once    sync.Once
}

func startController(t *testing.T) *controller {
	t.Helper()
	c := &controller{dataDir: t.TempDir()}
	var err error
	c.srv, err = server.Start(t.Context(), server.Options{
		DataDir: c.dataDir, GRPCListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	caPEM, err := os.ReadFile(c.srv.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	c.caPool = x509.NewCertPool()
	c.caPool.AppendCertsFromPEM(caPEM)
	tok, err := os.ReadFile(c.srv.TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	c.tok = strings.TrimSpace(string(tok))
	c.admin = pb.NewAdminServiceClient(c.dial(t, c.tok))
	return c
}

// dial is a connection whose unary calls present token.
func (c *controller) dial(t *testing.T, token string) *grpc.ClientConn {
	t.Helper()
	bearer := "Bearer " + token
	conn, err := grpc.NewClient(c.srv.Addr(),
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: c.caPool, MinVersion: tls.VersionTLS12})),
		grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, inv grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return inv(metadata.AppendToOutgoingContext(ctx, "authorization", bearer), method, req, reply, cc, opts...)
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func (c *controller) close() { c.once.Do(c.srv.Close) }

// stopAndOpenStore stops the controller and opens its data file, to read what it recorded.
func (c *controller) stopAndOpenStore(t *testing.T) *store.Store {
	t.Helper()
	c.close()
	st, err := store.Open(c.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func (c *controller) token(t *testing.T, checkpoint, kind string) string {
	t.Helper()
	k := map[string]pb.CheckpointKind{"public": pb.CheckpointKind_CHECKPOINT_KIND_PUBLIC, "private": pb.CheckpointKind_CHECKPOINT_KIND_PRIVATE}[kind]
	resp, err := c.admin.CreateEnrollmentToken(t.Context(), &pb.CreateEnrollmentTokenRequest{CheckpointName: checkpoint, Kind: k, Ttl: durationpb.New(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Token
}

// enrollRequest is what an agent sends: a CSR for a key it made and its sealing public key.
type enrollRequest struct {
	req     *pb.EnrollRequest
	key     *ecdsa.PrivateKey
	sealing *ecdh.PrivateKey
}

func newEnrollRequest(t *testing.T, token, instance string) enrollRequest {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := sealing.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return enrollRequest{key: key, sealing: sk,
		req: &pb.EnrollRequest{Token: token, CsrDer: csr, SealingPublicKey: sk.PublicKey().Bytes(), InstanceName: instance, Version: "test-" + instance}}
}

// anonymous is an AgentService client without a client certificate, as before enrollment.
func (c *controller) anonymous(t *testing.T) pb.AgentServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(c.srv.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: c.caPool, MinVersion: tls.VersionTLS12})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pb.NewAgentServiceClient(conn)
}

// agent is an enrolled agent instance: its identity and a client using its certificate.
type agent struct {
	resp    *pb.EnrollResponse
	cert    tls.Certificate
	sealing *ecdh.PrivateKey
	client  pb.AgentServiceClient
	c       *controller
}

func (c *controller) enroll(t *testing.T, checkpoint, kind, instance string) *agent {
	t.Helper()
	return c.enrollWith(t, c.token(t, checkpoint, kind), instance)
}

// enrollWith enrolls an instance with a token made earlier.
func (c *controller) enrollWith(t *testing.T, token, instance string) *agent {
	t.Helper()
	er := newEnrollRequest(t, token, instance)
	resp, err := c.anonymous(t).Enroll(t.Context(), er.req)
	if err != nil {
		t.Fatalf("enrolling %s: %v", instance, err)
	}
	block, _ := pem.Decode(resp.CertificatePem)
	if block == nil {
		t.Fatal("enrollment returned no certificate")
	}
	a := &agent{resp: resp, sealing: er.sealing, c: c, cert: tls.Certificate{Certificate: [][]byte{block.Bytes}, PrivateKey: er.key}}
	conn, err := grpc.NewClient(c.srv.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(a.tlsConfig())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	a.client = pb.NewAgentServiceClient(conn)
	return a
}

func (a *agent) tlsConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{a.cert}, RootCAs: a.c.caPool, MinVersion: tls.VersionTLS12}
}

func (a *agent) id() string { return a.resp.AgentId }

// bus is an agent's NATS connection, subscribed the way the real agent subscribes, recording the
// run requests it receives.
type bus struct {
	nc     *nats.Conn
	sub    *nats.Subscription
	runs   chan *pb.RunRequest
	closed chan struct{}
}

func (a *agent) dialNATS(opts ...nats.Option) (*nats.Conn, error) {
	opts = append([]nats.Option{
		nats.Secure(a.tlsConfig()),
		nats.CustomInboxPrefix(natsbus.InboxPrefix(a.id())),
		nats.NoReconnect(),
		nats.Timeout(5 * time.Second),
	}, opts...)
	return nats.Connect(a.resp.NatsUrl, opts...)
}

func (a *agent) subscribe(t *testing.T) *bus {
	t.Helper()
	b := &bus{runs: make(chan *pb.RunRequest, 256), closed: make(chan struct{})}
	var err error
	b.nc, err = a.dialNATS(nats.ClosedHandler(func(*nats.Conn) { close(b.closed) }))
	if err != nil {
		t.Fatalf("agent %s connecting to NATS: %v", a.id(), err)
	}
	t.Cleanup(b.nc.Close)
	b.sub, err = b.nc.QueueSubscribe(a.resp.RunSubject, a.resp.QueueGroup, func(m *nats.Msg) {
		req := &pb.RunRequest{}
		if proto.Unmarshal(m.Data, req) == nil {
			b.runs <- req
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := b.nc.LastError(); err != nil {
		t.Fatalf("agent %s subscribing to its runs: %v", a.id(), err)
	}
	return b
}

// leave unsubscribes (and waits until the server has processed it), then closes: an instance
// stopping.
func (b *bus) leave(t *testing.T) {
	t.Helper()
	if err := b.sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if err := b.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	b.nc.Close()
}

// applyMonitor stores a monitor on checkpoints that uses the vault credential set "api-user".
func (c *controller) applyMonitor(t *testing.T, name string, checkpoints ...string) {
	t.Helper()
	src := "name: " + name + `
interval: 1h
timeout: 10s
checkpoints: [` + strings.Join(checkpoints, ", ") + `]
steps:
  - name: orders
    request:
      url: "https://127.0.0.1:1/orders"
      auth: {type: basic, credentials: api-user}
`
	if _, err := c.admin.ApplyMonitor(t.Context(), &pb.ApplyMonitorRequest{Source: []byte(src), Filename: name + ".yaml"}); err != nil {
		t.Fatalf("applying monitor %s: %v", name, err)
	}
}

const apiPassword = "pw-Secret-4711"

func (c *controller) addCredentials(t *testing.T) {
	t.Helper()
	if _, err := c.admin.AddCredentials(t.Context(), &pb.AddCredentialsRequest{Name: "api-user", Username: "monitor", Password: apiPassword}); err != nil {
		t.Fatal(err)
	}
}

func (c *controller) trigger(t *testing.T, monitor, checkpoint string) *pb.Run {
	t.Helper()
	resp, err := c.admin.TriggerRun(t.Context(), &pb.TriggerRunRequest{Monitor: monitor, Checkpoint: checkpoint})
	if err != nil || len(resp.Runs) != 1 {
		t.Fatalf("triggering %s on %s: %v (%d runs)", monitor, checkpoint, err, len(resp.GetRuns()))
	}
	return resp.Runs[0]
}

func (c *controller) run(t *testing.T, id string) *pb.Run {
	t.Helper()
	r, err := c.admin.GetRun(t.Context(), &pb.GetRunRequest{RunId: id})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// wantCode fails unless err is a gRPC status with code (and, when given, a message containing words).
func wantCode(t *testing.T, what string, err error, code codes.Code, words string) {
	t.Helper()
	st, _ := status.FromError(err)
	if err == nil || st.Code() != code || !strings.Contains(st.Message(), words) {
		t.Errorf("%s: got %v, want %v containing %q", what, err, code, words)
	}
}

func result(r *pb.Run, agentID string) *pb.ReportResultRequest {
	return &pb.ReportResultRequest{Result: &pb.RunResult{RunId: r.RunId, Attempt: r.Attempt, AgentId: agentID, Outcome: pb.Outcome_OUTCOME_PASSED}}
}

// auditHas reports whether the log holds an entry with this actor, action and target.
func auditHas(log []store.AuditEntry, actor, action, target string) bool {
	for _, e := range log {
		if e.Actor == actor && e.Action == action && e.Target == target {
			return true
		}
	}
	return false
}
