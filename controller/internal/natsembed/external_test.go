package natsembed

import (
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/lookout-synthetics/lookout/internal/natsbus"
	"github.com/lookout-synthetics/lookout/internal/pki"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// controllerCertificate is the controller's own client certificate, whose URI SAN is ControllerUser.
func controllerCertificate(t *testing.T, ca *pki.CA) tls.Certificate {
	t.Helper()
	pair, err := ca.ControllerClientCertificate()
	if err != nil {
		t.Fatal(err)
	}
	return pair.TLS(ca)
}

// TestExternalConfiguration runs a nats-server configured from a configuration file, the way an
// operator runs an external deployment (docs/external-nats.md): TLS with verify_and_map against the
// internal CA and the authorization block ExternalAuthorization renders. The agents get exactly
// the embedded server's permissions, the controller may only publish run requests, and an agent
// missing from the list is refused.
func TestExternalConfiguration(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := testutil.ControllerCAServerPEM(t, dir, dir, "server", "127.0.0.1")
	ca := srv.CA
	alice := pki.Identity{AgentID: "ag_alice", CheckpointID: "cp_site_a", Kind: "private"}
	bob := pki.Identity{AgentID: "ag_bob", CheckpointID: "cp_site_b", Kind: "public"}
	unlisted := pki.Identity{AgentID: "ag_new", CheckpointID: "cp_site_a", Kind: "private"}
	authz, err := ExternalAuthorization([]pki.Identity{alice, bob})
	if err != nil {
		t.Fatal(err)
	}
	conf := "listen: \"127.0.0.1:-1\"\n" +
		"tls {\n  cert_file: " + strconv.Quote(srv.CertFile) +
		"\n  key_file: " + strconv.Quote(srv.KeyFile) +
		"\n  ca_file: " + strconv.Quote(srv.CAFile) +
		"\n  verify_and_map: true\n  timeout: 5\n}\n" + authz
	confFile := filepath.Join(dir, "nats-server.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(confFile)
	if err != nil {
		t.Fatalf("nats-server refuses the configuration: %v\n%s", err, conf)
	}
	opts.NoSigs, opts.NoLog = true, true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	addr := ns.Addr().(*net.TCPAddr)
	natsURL := "tls://" + net.JoinHostPort(addr.IP.String(), strconv.Itoa(addr.Port))

	ctl, err := dialAgent(natsURL, ca, pki.Identity{AgentID: "controller"}, controllerCertificate(t, ca))
	if err != nil {
		t.Fatalf("controller connecting: %v", err)
	}
	t.Cleanup(ctl.nc.Close)
	a, err := dialAgent(natsURL, ca, alice, agentCertificate(t, ca, alice, time.Hour))
	if err != nil {
		t.Fatalf("listed agent connecting: %v", err)
	}
	t.Cleanup(a.nc.Close)
	if _, err := dialAgent(natsURL, ca, unlisted, agentCertificate(t, ca, unlisted, time.Hour)); err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Errorf("an agent missing from the configuration connecting: %v, want an authorization violation", err)
	}

	own, other := runSubject(t, alice.CheckpointID), runSubject(t, bob.CheckpointID)
	runs, err := a.nc.QueueSubscribeSync(own, natsbus.QueueGroup(alice.CheckpointID))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := ctl.nc.Publish(own, []byte("run")); err != nil {
		t.Fatal(err)
	}
	if got := next(t, runs); got != "run" {
		t.Errorf("agent received %q, want the controller's run", got)
	}
	for _, r := range []struct {
		name, subject string
		try           func() error
	}{
		{"another checkpoint's runs", other, func() error {
			_, err := a.nc.QueueSubscribeSync(other, natsbus.QueueGroup(bob.CheckpointID))
			return err
		}},
		{"everything", ">", func() error { _, err := a.nc.SubscribeSync(">"); return err }},
		{"own runs outside the queue group", own, func() error { _, err := a.nc.SubscribeSync(own); return err }},
		{"publishing a run request", own, func() error { return a.nc.Publish(own, []byte("forged")) }},
	} {
		if err := r.try(); err != nil {
			t.Fatal(err)
		}
		if err := a.nc.Flush(); err != nil {
			t.Fatal(err)
		}
		a.expectViolation(t, r.name, r.subject)
	}
	if _, err := ctl.nc.SubscribeSync(own); err != nil {
		t.Fatal(err)
	}
	if err := ctl.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	ctl.expectViolation(t, "the controller subscribing", own)
	if err := ctl.nc.Publish("lookout.other", nil); err != nil {
		t.Fatal(err)
	}
	if err := ctl.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	ctl.expectViolation(t, "the controller publishing outside run subjects", "lookout.other")
}
