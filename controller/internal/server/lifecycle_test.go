package server

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/lookout-synthetics/lookout/controller/internal/store"
)

func startAllListeners(t *testing.T) *Server {
	t.Helper()
	s, err := Start(t.Context(), Options{DataDir: t.TempDir(), GRPCListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0",
		MetricsListen: "127.0.0.1:0", PprofListen: "127.0.0.1:0", Logger: quiet(),
		Retention: store.Retention{Runs: time.Hour, Audit: time.Hour}}) // the pruner runs too
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A listener whose Serve fails stops the controller: Wait returns the error naming the flag and
// address of that listener, the background work (sweeper, pruner …) stops, and Close joins every
// goroutine the controller started.
func TestListenerThatStopsServingStopsTheController(t *testing.T) {
	cases := []struct {
		flag string
		lis  func(*Server) net.Listener
	}{
		{"--grpc-listen", func(s *Server) net.Listener { return s.lis }},
		{"--metrics-listen", func(s *Server) net.Listener { return s.metricsLis }},
		{"--pprof-listen", func(s *Server) net.Listener { return s.pprofLis }},
	}
	for _, c := range cases {
		t.Run(c.flag, func(t *testing.T) {
			s := startAllListeners(t)
			lis := c.lis(s)
			addr := lis.Addr().String()
			if err := lis.Close(); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			err := s.Wait(ctx)
			if err == nil {
				s.Close()
				t.Fatalf("Wait returned nil after the %s listener was closed under the server, want its error", c.flag)
			}
			if want := c.flag + " " + addr; !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name the listener %q", err, want)
			}
			select {
			case <-s.done:
			case <-ctx.Done():
				t.Error("the background goroutines went on after a listener failed")
			}
			s.Close()
			goleak.VerifyNone(t)
		})
	}
}

// Without a failure Wait returns nil once its context ends, and Close then stops everything.
func TestWaitReturnsNilWhenStopped(t *testing.T) {
	s := startAllListeners(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Wait(ctx); err != nil {
		t.Errorf("Wait after the context ended = %v, want nil", err)
	}
	s.Close()
	goleak.VerifyNone(t)
}

// A controller whose start context ends (with a deadline, or any cause of its own) is stopping,
// not failing: Wait returns nil, not the context's cause as if a listener had broken.
func TestStartContextEndingIsNotAFailure(t *testing.T) {
	parent, cancel := context.WithCancelCause(t.Context())
	s, err := Start(parent, Options{DataDir: t.TempDir(), GRPCListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cancel(errors.New("the embedding program is shutting down"))
	ctx, stop := context.WithTimeout(t.Context(), 10*time.Second)
	defer stop()
	if err := s.Wait(ctx); err != nil {
		t.Errorf("Wait after the start context ended = %v, want nil", err)
	}
}
