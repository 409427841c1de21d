package natsembed

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/lookout-synthetics/lookout/internal/natsbus"
	"github.com/lookout-synthetics/lookout/internal/pki"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixture is an embedded server whose authorizer refuses the agent ids in revoked.
type fixture struct {
	srv     *Server
	ca      *pki.CA
	ctl     *nats.Conn
	mu      sync.Mutex
	revoked map[string]bool
}

func start(t *testing.T, recheck time.Duration) *fixture {
	t.Helper()
	ca, _, err := pki.LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pair, err := ca.ServerCertificate([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{ca: ca, revoked: map[string]bool{}}
	f.srv, err = Start(Options{
		Listen:  "127.0.0.1:0",
		TLS:     &tls.Config{Certificates: []tls.Certificate{pair.TLS(ca)}, ClientCAs: ca.Pool(), MinVersion: tls.VersionTLS12},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Recheck: recheck,
		Authorize: func(id pki.Identity) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.revoked[id.AgentID] {
				return fmt.Errorf("agent %s is revoked", id.AgentID)
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.srv.Shutdown)
	if f.ctl, err = f.srv.ConnectInProcess(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.ctl.Close)
	return f
}

func (f *fixture) revoke(agentID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked[agentID] = true
}

// agent is a NATS connection made with an agent certificate the fixture's CA issued.
type agent struct {
	id     pki.Identity
	nc     *nats.Conn
	errs   chan error
	closed chan struct{}
}

func (f *fixture) certificate(t *testing.T, id pki.Identity, ttl time.Duration) tls.Certificate {
	t.Helper()
	return agentCertificate(t, f.ca, id, ttl)
}

// agentCertificate is what the controller issues an enrolled agent.
func agentCertificate(t *testing.T, ca *pki.CA, id pki.Identity, ttl time.Duration) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	der, err := ca.IssueAgentCertificate(csr, id, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func (f *fixture) dial(id pki.Identity, cert tls.Certificate) (*agent, error) {
	return dialAgent(f.srv.ClientURL(), f.ca, id, cert)
}

// dialAgent connects to url as an agent does: TLS with its certificate, its own inbox prefix.
func dialAgent(url string, ca *pki.CA, id pki.Identity, cert tls.Certificate) (*agent, error) {
	a := &agent{id: id, errs: make(chan error, 64), closed: make(chan struct{})}
	nc, err := nats.Connect(url,
		nats.Secure(&tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}),
		nats.CustomInboxPrefix(natsbus.InboxPrefix(id.AgentID)),
		nats.NoReconnect(),
		nats.Timeout(5*time.Second),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case a.errs <- err:
			default:
			}
		}),
		nats.ClosedHandler(func(*nats.Conn) { close(a.closed) }),
	)
	if err != nil {
		return nil, err
	}
	a.nc = nc
	return a, nil
}

func (f *fixture) connect(t *testing.T, id pki.Identity) *agent {
	t.Helper()
	a, err := f.dial(id, f.certificate(t, id, time.Hour))
	if err != nil {
		t.Fatalf("agent %s connecting: %v", id.AgentID, err)
	}
	t.Cleanup(a.nc.Close)
	return a
}

// expectViolation waits for the server's permission violation naming subject.
func (a *agent) expectViolation(t *testing.T, what, subject string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case err := <-a.errs:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), `"`+subject+`"`) {
				return
			}
		case <-deadline:
			t.Fatalf("%s: no permission violation for %q within 10s", what, subject)
		}
	}
}

func next(t *testing.T, sub *nats.Subscription) string {
	t.Helper()
	msg, err := sub.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("waiting for a message on %s: %v", sub.Subject, err)
	}
	return string(msg.Data)
}

func runSubject(t *testing.T, cp string) string {
	t.Helper()
	s, err := natsbus.RunSubject(cp)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAgentPermissions: an agent receives its own checkpoint's runs in its own queue group, and the
// server refuses everything else it tries — another checkpoint's subject, '>', a plain (non-queue)
// or foreign-queue subscription, another agent's inbox, and any publish.
func TestAgentPermissions(t *testing.T) {
	t.Parallel()
	f := start(t, time.Hour)
	pubID := pki.Identity{AgentID: "ag_public1", CheckpointID: "cp_public", Kind: "public"}
	privID := pki.Identity{AgentID: "ag_private1", CheckpointID: "cp_private", Kind: "private"}
	pub, priv := f.connect(t, pubID), f.connect(t, privID)
	pubSubject, privSubject := runSubject(t, pubID.CheckpointID), runSubject(t, privID.CheckpointID)

	pubRuns, err := pub.nc.QueueSubscribeSync(pubSubject, natsbus.QueueGroup(pubID.CheckpointID))
	if err != nil {
		t.Fatal(err)
	}
	privRuns, err := priv.nc.QueueSubscribeSync(privSubject, natsbus.QueueGroup(privID.CheckpointID))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []*agent{pub, priv} {
		if err := a.nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	// The controller publishes to the public checkpoint first, then the private one: the private
	// agent's first message must be its own, so it never saw the public one.
	if err := f.ctl.Publish(pubSubject, []byte("run for public")); err != nil {
		t.Fatal(err)
	}
	if err := f.ctl.Publish(privSubject, []byte("run for private")); err != nil {
		t.Fatal(err)
	}
	if got := next(t, pubRuns); got != "run for public" {
		t.Errorf("public agent received %q, want its own run", got)
	}
	if got := next(t, privRuns); got != "run for private" {
		t.Errorf("private agent received %q first, want its own run (it must never see the public checkpoint's)", got)
	}

	refused := []struct {
		name    string
		subject string
		try     func() error
	}{
		{"another checkpoint's run subject", privSubject, func() error {
			_, err := pub.nc.QueueSubscribeSync(privSubject, natsbus.QueueGroup(privID.CheckpointID))
			return err
		}},
		{"everything", ">", func() error { _, err := pub.nc.SubscribeSync(">"); return err }},
		{"own run subject outside the queue group", pubSubject, func() error { _, err := pub.nc.SubscribeSync(pubSubject); return err }},
		{"own run subject in another checkpoint's queue group", pubSubject, func() error {
			_, err := pub.nc.QueueSubscribeSync(pubSubject, natsbus.QueueGroup(privID.CheckpointID))
			return err
		}},
		{"all run subjects", "lookout.run.*", func() error { _, err := pub.nc.SubscribeSync("lookout.run.*"); return err }},
		{"another agent's inbox", natsbus.InboxPrefix(privID.AgentID) + ".>", func() error {
			_, err := pub.nc.SubscribeSync(natsbus.InboxPrefix(privID.AgentID) + ".>")
			return err
		}},
		{"publishing a run request to its own checkpoint", pubSubject, func() error { return pub.nc.Publish(pubSubject, []byte("forged")) }},
		{"publishing a run request to another checkpoint", privSubject, func() error { return pub.nc.Publish(privSubject, []byte("forged")) }},
	}
	for _, r := range refused {
		if err := r.try(); err != nil {
			t.Fatalf("%s: client-side error %v", r.name, err)
		}
		if err := pub.nc.Flush(); err != nil {
			t.Fatal(err)
		}
		pub.expectViolation(t, r.name, r.subject)
	}

	// Nothing the public agent tried reached the private agent, and its own inbox still works.
	if err := f.ctl.Publish(privSubject, []byte("second run for private")); err != nil {
		t.Fatal(err)
	}
	if got := next(t, privRuns); got != "second run for private" {
		t.Errorf("private agent received %q, want the controller's second run (a forged publish got through?)", got)
	}
	inbox, err := pub.nc.SubscribeSync(pub.nc.NewRespInbox())
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.ctl.Publish(inbox.Subject, []byte("reply")); err != nil {
		t.Fatal(err)
	}
	if got := next(t, inbox); got != "reply" {
		t.Errorf("own inbox received %q", got)
	}
}

// TestRevocationClosesConnections: a revoked agent's open connection is closed by Recheck (and by
// the periodic recheck on its own), and it cannot connect again; other agents stay connected.
func TestRevocationClosesConnections(t *testing.T) {
	t.Parallel()
	f := start(t, 100*time.Millisecond)
	gone := pki.Identity{AgentID: "ag_gone", CheckpointID: "cp_site", Kind: "private"}
	stays := pki.Identity{AgentID: "ag_stays", CheckpointID: "cp_other", Kind: "private"}
	goneCert := f.certificate(t, gone, time.Hour)
	g, err := f.dial(gone, goneCert)
	if err != nil {
		t.Fatal(err)
	}
	defer g.nc.Close()
	s := f.connect(t, stays)

	f.revoke(gone.AgentID)
	select {
	case <-g.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the revoked agent's connection was still open 10s after revocation (recheck every 100ms)")
	}
	if _, err := f.dial(gone, goneCert); err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Fatalf("revoked agent reconnecting: err = %v, want an authorization violation", err)
	}
	if !s.nc.IsConnected() {
		t.Fatal("an unrevoked agent was disconnected too")
	}
	if err := s.nc.Flush(); err != nil {
		t.Fatalf("unrevoked agent: %v", err)
	}
}

// TestRecheckNow: Recheck closes exactly the revoked agents' connections at once.
func TestRecheckNow(t *testing.T) {
	t.Parallel()
	f := start(t, time.Hour)
	ids := []pki.Identity{
		{AgentID: "ag_one", CheckpointID: "cp_site", Kind: "public"},
		{AgentID: "ag_two", CheckpointID: "cp_site", Kind: "public"},
		{AgentID: "ag_three", CheckpointID: "cp_else", Kind: "public"},
	}
	var conns []*agent
	for _, id := range ids {
		conns = append(conns, f.connect(t, id))
	}
	if n := f.srv.AgentConnections(); n != 3 {
		t.Fatalf("tracking %d agent connections, want 3", n)
	}
	if n := f.srv.Recheck(); n != 0 {
		t.Fatalf("Recheck closed %d connections with nobody revoked", n)
	}
	f.revoke("ag_one")
	f.revoke("ag_two")
	if n := f.srv.Recheck(); n != 2 {
		t.Fatalf("Recheck closed %d connections, want 2", n)
	}
	for _, a := range conns[:2] {
		select {
		case <-a.closed:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s still connected after Recheck", a.id.AgentID)
		}
	}
	if err := conns[2].nc.Flush(); err != nil {
		t.Fatalf("the unrevoked agent lost its connection: %v", err)
	}
	conns[2].nc.Close()
	testutil.EventuallyValue(t, "the closed connections to be forgotten", 10*time.Second, func() (int, error) {
		f.srv.Recheck()
		if n := f.srv.AgentConnections(); n != 0 {
			return n, fmt.Errorf("still tracking %d closed connections", n)
		}
		return 0, nil
	})
}

// TestRefusedCertificates: a certificate from another CA, or one naming an unsafe id, never
// becomes a NATS user.
func TestRefusedCertificates(t *testing.T) {
	t.Parallel()
	f := start(t, time.Hour)
	other := start(t, time.Hour)
	id := pki.Identity{AgentID: "ag_x", CheckpointID: "cp_x", Kind: "public"}
	if _, err := f.dial(id, other.certificate(t, id, time.Hour)); err == nil {
		t.Error("a certificate from another CA was accepted")
	}
	bad := pki.Identity{AgentID: "ag_x", CheckpointID: "cp.>", Kind: "public"}
	if _, err := f.dial(bad, f.certificate(t, bad, time.Hour)); err == nil {
		t.Error("a certificate naming checkpoint \"cp.>\" was accepted")
	}
	badAgent := pki.Identity{AgentID: "ag.*", CheckpointID: "cp_x", Kind: "public"}
	if _, err := f.dial(badAgent, f.certificate(t, badAgent, time.Hour)); err == nil {
		t.Error("a certificate naming agent \"ag.*\" was accepted")
	}
}

// TestExpiredCertificateIsCutOff: the handshake checks a certificate once; the recheck closes a
// connection that outlives its certificate.
func TestExpiredCertificateIsCutOff(t *testing.T) {
	t.Parallel()
	f := start(t, 100*time.Millisecond)
	id := pki.Identity{AgentID: "ag_short", CheckpointID: "cp_site", Kind: "public"}
	a, err := f.dial(id, f.certificate(t, id, 1500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer a.nc.Close()
	select {
	case <-a.closed:
	case <-time.After(15 * time.Second):
		t.Fatal("a connection whose certificate expired was still open 15s later")
	}
}
