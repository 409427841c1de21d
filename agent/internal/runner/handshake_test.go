package runner

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// heldHandshakes is a TLS target that holds every handshake after the ClientHello until hold is
// closed; hellos receives one value per ClientHello.
func heldHandshakes(t *testing.T) (ca *testCA, srv *httptest.Server, hellos, hold chan struct{}) {
	t.Helper()
	ca = newCA(t)
	hellos, hold = make(chan struct{}, 4), make(chan struct{})
	srv = newTLSServer(t, ca, false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), func(s *httptest.Server) {
		s.TLS.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
			hellos <- struct{}{}
			<-hold
			return nil, nil
		}
	})
	return ca, srv, hellos, hold
}

// TestHandshakesAreBounded: with MaxHandshakes 1, a run's TLS handshake does not begin while
// another's is in progress (the target sees no second ClientHello), and both runs pass once the
// first handshake goes on. Timing accuracy depends on it: handshakes past the cores only queue
// the goroutines that read responses, and late reads make late timings.
func TestHandshakesAreBounded(t *testing.T) {
	t.Parallel()
	ca, srv, hellos, hold := heldHandshakes(t)
	r := New(Options{RootCAs: ca.pool, MaxHandshakes: 1})
	results := make(chan *lookoutv1.RunResult, 2)
	run := func() { results <- runMonitor(t, r, monitor(get("get", srv.URL, statusIs("200"))), nil) }
	go run()
	<-hellos // the first run's handshake is in progress, held by the target
	go run()
	select {
	case <-hellos:
		t.Fatal("a second handshake began while the only one allowed was in progress")
	case <-time.After(300 * time.Millisecond):
	}
	close(hold)
	for range 2 {
		if res := <-results; res.Outcome != lookoutv1.Outcome_OUTCOME_PASSED {
			t.Errorf("a run failed: %s", res.Message)
		}
	}
	if len(hellos) != 1 {
		t.Errorf("the target saw %d more handshakes after the first, want 1", len(hellos))
	}
}

// TestDefaultHandshakesAreNotBoundedWhereArrivalsAreKnown: where reads learn when their bytes
// arrived, a default runner starts a second handshake while another is in progress, so new
// connections go as fast as the cores allow (agent capacity, docs/benchmarks.md).
func TestDefaultHandshakesAreNotBoundedWhereArrivalsAreKnown(t *testing.T) {
	if !kernelArrivals {
		t.Skip("reads here do not learn when their bytes arrived: the default bounds handshakes")
	}
	t.Parallel()
	ca, srv, hellos, hold := heldHandshakes(t)
	r := New(Options{RootCAs: ca.pool})
	results := make(chan *lookoutv1.RunResult, 2)
	run := func() { results <- runMonitor(t, r, monitor(get("get", srv.URL, statusIs("200"))), nil) }
	go run()
	go run()
	for i := range 2 {
		select {
		case <-hellos:
		case <-time.After(10 * time.Second):
			close(hold)
			t.Fatalf("only %d handshake(s) began while the first was held; want both at once", i)
		}
	}
	close(hold)
	for range 2 {
		if res := <-results; res.Outcome != lookoutv1.Outcome_OUTCOME_PASSED {
			t.Errorf("a run failed: %s", res.Message)
		}
	}
}
