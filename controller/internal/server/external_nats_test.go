package server

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/lookout-synthetics/lookout/controller/internal/natsembed"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// With --nats-url the controller connects to a NATS deployment configured as
// docs/external-nats.md says: TLS that verifies client certificates against the internal CA and
// maps them to users. The controller must present its own certificate and be mapped to its user;
// a server that demands certificates would refuse it otherwise.
func TestExternalNATSMapsTheControllersCertificate(t *testing.T) {
	dataDir := t.TempDir()
	dir := t.TempDir()
	srv := testutil.ControllerCAServerPEM(t, dataDir, dir, "server", "127.0.0.1") // the controller reuses the CA it finds in its data dir
	authz, err := natsembed.ExternalAuthorization(nil)
	if err != nil {
		t.Fatal(err)
	}
	conf := "listen: \"127.0.0.1:-1\"\ntls {\n  cert_file: " + strconv.Quote(srv.CertFile) +
		"\n  key_file: " + strconv.Quote(srv.KeyFile) +
		"\n  ca_file: " + strconv.Quote(srv.CAFile) + "\n  verify_and_map: true\n  timeout: 5\n}\n" + authz
	confFile := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := natsserver.ProcessConfigFile(confFile)
	if err != nil {
		t.Fatal(err)
	}
	opts.NoSigs, opts.NoLog = true, true
	ns, err := natsserver.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	addr := ns.Addr().(*net.TCPAddr)
	url := "tls://" + net.JoinHostPort(addr.IP.String(), strconv.Itoa(addr.Port))

	s, err := Start(context.Background(), Options{DataDir: dataDir, GRPCListen: "127.0.0.1:0", NATSURL: url, Logger: quiet()})
	if err != nil {
		t.Fatalf("controller with --nats-url %s: %v", url, err)
	}
	defer s.Close()
	if err := s.nc.Publish("lookout.run.cp_probe", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.nc.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
	connz, err := ns.Connz(&natsserver.ConnzOptions{Username: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(connz.Conns) != 1 || connz.Conns[0].AuthorizedUser != natsembed.ControllerUser {
		t.Fatalf("connections: %d, first user %q, want one mapped to %q", len(connz.Conns), connz.Conns[0].AuthorizedUser, natsembed.ControllerUser)
	}
	if errs := s.nc.LastError(); errs != nil {
		t.Fatalf("controller connection error: %v", errs)
	}
}
