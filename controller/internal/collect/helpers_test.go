package collect_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/lookout-synthetics/lookout/controller/internal/cli"
	"github.com/lookout-synthetics/lookout/controller/internal/server"
)

// controller is a real controller on loopback with a fresh data dir.
type controller struct {
	*server.Server
	adminToken string
	dataDir    string
}

func startController(t *testing.T, o server.Options) *controller {
	t.Helper()
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	o.GRPCListen, o.NATSListen = "127.0.0.1:0", "127.0.0.1:0"
	o.Logger = slog.New(slog.DiscardHandler)
	s, err := server.Start(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	tok, err := os.ReadFile(s.TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	return &controller{Server: s, adminToken: strings.TrimSpace(string(tok)), dataDir: o.DataDir}
}

type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}
func (bearer) RequireTransportSecurity() bool { return true }

// dial connects over TLS, verified against the controller's CA, presenting token.
func (c *controller) dial(t *testing.T, token string) *grpc.ClientConn {
	t.Helper()
	pemBytes, err := os.ReadFile(c.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	cc, err := grpc.NewClient(c.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})),
		grpc.WithPerRPCCredentials(bearer(token)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// cliResult is what an admin command printed and returned.
type cliResult struct {
	stdout, stderr string
	err            error
}

// cli runs an admin subcommand in-process against the controller, with the token in tokenFile
// (the admin token when empty).
func (c *controller) cli(t *testing.T, tokenFile string, args ...string) cliResult {
	t.Helper()
	if tokenFile == "" {
		tokenFile = c.TokenFile
	}
	cmd, rest, ok := cli.Find(args)
	if !ok {
		t.Fatalf("no command %v", args)
	}
	var out, errb strings.Builder
	env := cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		return map[string]string{"LOOKOUT_ADDR": c.Addr(), "LOOKOUT_TOKEN_FILE": tokenFile, "LOOKOUT_CA_FILE": c.CAFile}[k]
	}}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err := cmd.Run(ctx, env, rest)
	return cliResult{stdout: out.String(), stderr: errb.String(), err: err}
}

func (c *controller) mustCLI(t *testing.T, tokenFile string, args ...string) string {
	t.Helper()
	r := c.cli(t, tokenFile, args...)
	if r.err != nil {
		t.Fatalf("%v: %v\nstdout: %s\nstderr: %s", args, r.err, r.stdout, r.stderr)
	}
	return r.stdout
}

func code(err error) string { return status.Code(err).String() }

func server0() server.Options { return server.Options{} }
