package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Env is what a command reads and writes besides the network.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// conn holds the flags every admin command takes.
type conn struct {
	addr, tokenFile, caFile, output string
}

func (c *conn) register(fs *flag.FlagSet, env Env) {
	fs.StringVar(&c.addr, "addr", orEnv(env, "LOOKOUT_ADDR", "127.0.0.1:7443"), "controller gRPC address (env LOOKOUT_ADDR)")
	fs.StringVar(&c.tokenFile, "token-file", env.Getenv("LOOKOUT_TOKEN_FILE"), "admin token file (env LOOKOUT_TOKEN_FILE)")
	fs.StringVar(&c.caFile, "ca-file", env.Getenv("LOOKOUT_CA_FILE"), "controller CA certificate (env LOOKOUT_CA_FILE)")
	fs.StringVar(&c.output, "o", "text", "output format: text or json")
}

func orEnv(env Env, key, def string) string {
	if v := env.Getenv(key); v != "" {
		return v
	}
	return def
}

type tokenCreds struct{ token string }

func (t tokenCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + t.token}, nil
}
func (tokenCreds) RequireTransportSecurity() bool { return true }

// dial connects to the controller with the admin token.
func (c *conn) dial() (*grpc.ClientConn, error) {
	if c.output != "text" && c.output != "json" {
		return nil, fmt.Errorf("-o %q: use text or json", c.output)
	}
	if c.tokenFile == "" {
		return nil, errors.New("no admin token: pass --token-file or set LOOKOUT_TOKEN_FILE (the controller writes <data-dir>/admin.token)")
	}
	tok, err := os.ReadFile(c.tokenFile)
	if err != nil {
		return nil, fmt.Errorf("reading admin token: %w", err)
	}
	if c.caFile == "" {
		return nil, errors.New("no controller CA: pass --ca-file or set LOOKOUT_CA_FILE (the controller writes <data-dir>/ca.pem)")
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	{
		pemBytes, err := os.ReadFile(c.caFile)
		if err != nil {
			return nil, fmt.Errorf("reading --ca-file: %w", err)
		}
		tlsConf.RootCAs = x509.NewCertPool()
		if !tlsConf.RootCAs.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("--ca-file %s holds no PEM certificate", c.caFile)
		}
	}
	return grpc.NewClient(c.addr, grpc.WithTransportCredentials(credentials.NewTLS(tlsConf)),
		grpc.WithPerRPCCredentials(tokenCreds{strings.TrimSpace(string(tok))}),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(8<<20), grpc.MaxCallRecvMsgSize(64<<20)))
}

// explain is friendly plus what to check when the controller could not be reached at all.
func (c *conn) explain(err error) error {
	if status.Code(err) == codes.Unavailable {
		return fmt.Errorf("cannot reach the controller at %s: %s\nCheck that it is running and that --addr (or LOOKOUT_ADDR) and --ca-file (or LOOKOUT_CA_FILE) point at it", c.addr, status.Convert(err).Message())
	}
	return friendly(err)
}

// friendly turns a gRPC status into its message alone (the controller writes them for people;
// a code such as "invalidargument" means nothing to them).
func friendly(err error) error {
	if st, ok := status.FromError(err); ok {
		return errors.New(st.Message())
	}
	return err
}

func printJSON(w io.Writer, m proto.Message) error {
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

// parse parses flags that may come before or after positional arguments and returns the positionals.
// A mistake is returned, not printed: main prints it once, first, without the whole flag list.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := ParseFlags(fs, args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// parseNone parses a command that takes flags only: a stray word (a name given to a command
// that takes --name, a misplaced value) is a usage error rather than silently ignored.
func parseNone(fs *flag.FlagSet, args []string) error {
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q: %s takes flags only (-h lists them)", pos[0], strings.TrimPrefix(fs.Name(), "lookout-controller "))
	}
	return nil
}

// UsageError is a mistake in the command line; main prints usage for it.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, a ...any) error { return &UsageError{Msg: fmt.Sprintf(format, a...)} }

func readSecret(env Env, file string, fromStdin bool, what string) (string, error) {
	switch {
	case file != "" && fromStdin:
		return "", usagef("give the %s with --password-file or --password-stdin, not both", what)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("reading %s file: %w", what, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	case fromStdin:
		b, err := io.ReadAll(io.LimitReader(env.Stdin, 64<<10))
		if err != nil {
			return "", fmt.Errorf("reading %s from stdin: %w", what, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return "", nil
}
