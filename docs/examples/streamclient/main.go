// Command streamclient is the Go client of docs/api.md: it streams a controller's results from a
// cursor (the last sequence it printed), so a program that stops can resume where it left off.
// It is built with the module (`go build ./...`) and run by internal/e2e, so it cannot drift from
// the API.
//
//	go run ./docs/examples/streamclient --addr 127.0.0.1:7443 --ca-file ca.pem \
//	    --token-file grafana.token --after 0
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// bearer sends the token with every call; gRPC refuses to send it over a connection without TLS.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return true }

func main() {
	addr := flag.String("addr", "127.0.0.1:7443", "the controller's gRPC address")
	caFile := flag.String("ca-file", "ca.pem", "the controller's CA (<data-dir>/ca.pem)")
	tokenFile := flag.String("token-file", "", "a results:read (or admin) token")
	after := flag.Uint64("after", 0, "print only results stored after this sequence (0: from the start)")
	monitor := flag.String("monitor", "", "only this monitor's results")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *addr, *caFile, *tokenFile, *monitor, *after); err != nil {
		fmt.Fprintln(os.Stderr, "streamclient:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, caFile, tokenFile, monitor string, after uint64) error {
	conn, err := dial(addr, caFile, tokenFile)
	if err != nil {
		return err
	}
	defer conn.Close()
	// from_start replays stored results; after_sequence skips those already seen.
	stream, err := pb.NewResultServiceClient(conn).StreamResults(ctx, &pb.StreamResultsRequest{
		Monitor: monitor, FromStart: true, AfterSequence: after,
	})
	if err != nil {
		return fmt.Errorf("opening the stream: %w", err)
	}
	for {
		res, err := stream.Recv()
		if errors.Is(err, io.EOF) || ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("after sequence %d: %w", after, err)
		}
		after = res.GetSequence() // the cursor to resume from with --after
		// %q: names and messages come from users and targets; never print them raw to a terminal.
		fmt.Printf("%d %q %q %s\n", after, res.GetMonitorName(), res.GetCheckpointName(), res.GetOutcome())
	}
}

func dial(addr, caFile, tokenFile string) (*grpc.ClientConn, error) {
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading the CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		return nil, fmt.Errorf("reading the token: %w", err)
	}
	return grpc.NewClient(addr,
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})),
		grpc.WithPerRPCCredentials(bearer(strings.TrimSpace(string(tok)))))
}
