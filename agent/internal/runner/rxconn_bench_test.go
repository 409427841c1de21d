package runner

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkKeepAliveExchange is the cost of one HTTPS GET on a kept-alive loopback connection,
// with the dialer's connections as they are (plain) and wrapped by the runner's dialer (rx: on
// Linux, recvmsg with the kernel's receive time and a stamp per read). Client and server share
// the process, as in the runner bench's keep-alive case. -count repeats one side before the
// other, so on a shared machine alternate them from the shell and compare the pairs:
//
//	go test -c -o /tmp/runner.test ./agent/internal/runner
//	for i in 1 2 3 4 5 6; do for s in plain rx; do
//		/tmp/runner.test -test.run '^$' -test.bench "KeepAliveExchange/$s\$" -test.benchtime 10000x
//	done; done
func BenchmarkKeepAliveExchange(b *testing.B) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	}))
	defer srv.Close()
	dialer := &net.Dialer{}
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	for _, side := range []struct {
		name string
		dial func(context.Context, string, string) (net.Conn, error)
	}{
		{"plain", dialer.DialContext},
		{"rx", dialRx(dialer.DialContext)},
	} {
		b.Run(side.name, func(b *testing.B) {
			tr := &http.Transport{DialContext: side.dial, TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr}
			b.ReportAllocs()
			for b.Loop() {
				rsp, err := c.Get(srv.URL)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, rsp.Body)
				rsp.Body.Close()
			}
		})
	}
}
