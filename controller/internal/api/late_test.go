package api_test

import (
	"context"
	"crypto/tls"
	"os"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// adminConn is a connection with the admin token, for the services beside AdminService.
func (c *controller) adminConn(t *testing.T) *grpc.ClientConn {
	t.Helper()
	tok, err := os.ReadFile(c.srv.TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	bearer := "Bearer " + strings.TrimSpace(string(tok))
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

// An agent that was cut off reports a run's failure after it reported the next run's pass: over
// ReportResult, the latest result (LastResults, MonitorStatus) stays the later run's, and the
// monitor stays ok.
func TestLateReportDoesNotMoveLatestBackwardsOverGRPC(t *testing.T) {
	c := startController(t)
	c.addCredentials(t)
	a := c.enroll(t, "paris", "private", "paris-1")
	c.applyMonitor(t, "orders", "paris")
	early, later := c.trigger(t, "orders", "paris"), c.trigger(t, "orders", "paris")
	for _, r := range []*pb.Run{early, later} {
		if _, err := a.client.FetchRunSecrets(t.Context(), &pb.FetchRunSecretsRequest{RunId: r.RunId, Attempt: r.Attempt}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.client.ReportResult(t.Context(), result(later, a.id())); err != nil {
		t.Fatal(err)
	}
	failed := result(early, a.id())
	failed.Result.Outcome, failed.Result.Message = pb.Outcome_OUTCOME_FAILED, "expected status 200, got 503"
	if _, err := a.client.ReportResult(t.Context(), failed); err != nil {
		t.Fatal(err)
	}

	conn := c.adminConn(t)
	last, err := pb.NewQueryServiceClient(conn).LastResults(t.Context(), &pb.LastResultsRequest{Monitor: "orders"})
	if err != nil || len(last.Results) != 1 || last.Results[0].RunId != later.RunId {
		t.Errorf("LastResults = %v, %v; want only %s (scheduled last)", last, err, later.RunId)
	}
	st, err := pb.NewQueryServiceClient(conn).MonitorStatus(t.Context(), &pb.MonitorStatusRequest{Monitor: "orders"})
	if err != nil || len(st.Checkpoints) != 1 || st.Checkpoints[0].GetLatest().GetRunId() != later.RunId {
		t.Errorf("MonitorStatus = %v, %v; want paris's latest %s", st, err, later.RunId)
	}
	if w := st.GetWindows(); len(w) == 0 || w[0].Failures != 1 {
		t.Errorf("MonitorStatus windows = %v, want the late failure counted", w)
	}
	states, err := pb.NewAlertServiceClient(conn).ListMonitorStates(t.Context(), &pb.ListMonitorStatesRequest{})
	if err != nil || len(states.States) != 1 || states.States[0].State != pb.MonitorState_MONITOR_STATE_OK {
		t.Errorf("alerting states = %v, %v; want orders ok", states, err)
	}
}
