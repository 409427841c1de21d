package api_test

import (
	"context"
	"crypto/tls"
	"os"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// bearerCreds sends a token with every call, streams included.
type bearerCreds string

func (b bearerCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}
func (bearerCreds) RequireTransportSecurity() bool { return true }

// listServices asks the controller's reflection service for its services, over TLS with tc (the
// controller's CA only when nil) and with token when given.
func listServices(t *testing.T, c *controller, tc *tls.Config, token string) ([]string, error) {
	t.Helper()
	if tc == nil {
		tc = &tls.Config{RootCAs: c.caPool, MinVersion: tls.VersionTLS12}
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(tc))}
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearerCreds(token)))
	}
	conn, err := grpc.NewClient(c.srv.Addr(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stream, err := rpb.NewServerReflectionClient(conn).ServerReflectionInfo(t.Context())
	if err != nil {
		return nil, err
	}
	defer stream.CloseSend() //nolint:errcheck // the stream ends with the connection
	// A refused stream's Send may only see io.EOF; Recv then returns the server's status.
	sendErr := stream.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{ListServices: "*"}})
	resp, err := stream.Recv()
	if err == nil && sendErr != nil {
		err = sendErr
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	return names, nil
}

// Reflection lets grpcurl read the schema with any valid token (a results:read one included), and
// refuses a caller without one (an agent's certificate is not a token) like every other call.
func TestReflectionListsServicesOnlyWithAToken(t *testing.T) {
	c := startController(t)
	admin, err := os.ReadFile(c.srv.TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(c.srv.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: c.caPool, MinVersion: tls.VersionTLS12})),
		grpc.WithPerRPCCredentials(bearerCreds(strings.TrimSpace(string(admin)))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	created, err := pb.NewTokenServiceClient(conn).CreateToken(t.Context(), &pb.CreateTokenRequest{Name: "grpcurl", Scope: "results:read"})
	if err != nil {
		t.Fatal(err)
	}
	names, err := listServices(t, c, nil, created.GetSecret())
	if err != nil {
		t.Fatalf("reflection with a results:read token: %v", err)
	}
	for _, want := range []string{"lookout.v1.AdminService", "lookout.v1.ResultService", "lookout.v1.QueryService"} {
		if !slices.Contains(names, want) {
			t.Errorf("reflection lists %v, want %s among them", names, want)
		}
	}
	ag := c.enroll(t, "paris", "public", "paris-1")
	for name, tc := range map[string]struct {
		tls   *tls.Config
		token string
	}{"no token": {}, "a wrong token": {token: "not-a-token"}, "an agent certificate": {tls: ag.tlsConfig()}} {
		if _, err := listServices(t, c, tc.tls, tc.token); status.Code(err) != codes.Unauthenticated {
			t.Errorf("reflection with %s: %v, want Unauthenticated", name, err)
		}
	}
}
