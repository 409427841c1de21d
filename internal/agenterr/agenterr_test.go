package agenterr

import (
	"context"
	"fmt"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// refusing answers every health check with err.
type refusing struct {
	*health.Server
	err error
}

func (r refusing) Check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	return nil, r.err
}

// TestRevokedCrossesTheWire: the reason survives a real gRPC round trip, whatever the message
// says, and a PermissionDenied whose text says "revoked" without the reason is not a revocation.
func TestRevokedCrossesTheWire(t *testing.T) {
	for name, tc := range map[string]struct {
		err  error
		want bool
	}{
		"revoked":                       {Revoked("agent ag_1 was removed by its operator"), true},
		"message mentions revoked only": {status.Error(codes.PermissionDenied, "agent ag_1 has been revoked"), false},
		"other refusal":                 {status.Error(codes.PermissionDenied, "certificate names another checkpoint"), false},
	} {
		t.Run(name, func(t *testing.T) {
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := grpc.NewServer()
			healthpb.RegisterHealthServer(srv, refusing{health.NewServer(), tc.err})
			done := make(chan error, 1)
			go func() { done <- srv.Serve(lis) }()
			t.Cleanup(func() { srv.Stop(); <-done })
			conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			_, err = healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
			if got := IsRevoked(fmt.Errorf("heartbeat: %w", err)); got != tc.want {
				t.Errorf("IsRevoked(%v) = %v, want %v", err, got, tc.want)
			}
		})
	}
}
