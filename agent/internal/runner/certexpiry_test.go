package runner

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
)

// A step over TLS reports when the earliest certificate the target presented expires; a plain
// HTTP step reports none.
func TestStepReportsTheTargetsEarliestCertificateExpiry(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	var served *tls.Certificate
	tlsSrv := newTLSServer(t, ca, false, ok, func(s *httptest.Server) { served = &s.TLS.Certificates[0] })
	plain := newServer(t, ok)

	res := runMonitor(t, New(Options{RootCAs: ca.pool}), monitor(get("tls", tlsSrv.URL, statusIs("200")), get("plain", plain.URL, statusIs("200"))), &Secrets{})
	steps := res.GetSteps()
	if len(steps) != 2 || !steps[0].Passed || !steps[1].Passed {
		t.Fatalf("steps: %v", briefs(res))
	}
	if got, want := steps[0].GetServerCertNotAfter().AsTime(), served.Leaf.NotAfter; !got.Equal(want) {
		t.Errorf("TLS step: server certificate expiry %v, want %v", got, want)
	}
	if steps[1].ServerCertNotAfter != nil {
		t.Errorf("plain HTTP step reports a certificate expiry: %v", steps[1].ServerCertNotAfter)
	}
}
