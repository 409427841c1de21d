//go:build linux && (amd64 || arm64 || 386 || arm)

package runner

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// queued is how many received bytes wait in c's socket for a read (FIONREAD).
func queued(t *testing.T, c net.Conn) int {
	t.Helper()
	raw, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int32
	var errno syscall.Errno
	if err := raw.Control(func(fd uintptr) {
		const fionread = 0x541B
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, fionread, uintptr(unsafe.Pointer(&n)))
	}); err != nil || errno != 0 {
		t.Fatalf("FIONREAD: %v %v", err, errno)
	}
	return int(n)
}

// loopbackPair is a connection made by the runner's dialer and the peer it reached.
func loopbackPair(t *testing.T) (*rxConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := dialRx((&net.Dialer{}).DialContext)(t.Context(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	peer := <-accepted
	if peer == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { peer.Close() })
	rc := c.(*rxConn)
	if rc.rx == nil {
		t.Fatal("the dialed connection does not ask the kernel for receive times")
	}
	return rc, peer
}

// timestampsOn waits until the kernel timestamps received bytes: it switches timestamping on
// from a deferred work item after the first socket asks for it.
func timestampsOn(t *testing.T) {
	t.Helper()
	rc, peer := loopbackPair(t)
	buf := make([]byte, 1)
	testutil.Eventually(t, "the kernel to timestamp received bytes", 5*time.Second, func() bool {
		if _, err := peer.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		_, at, err := rc.rx.read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return !at.IsZero()
	})
}

// TestReadIsStampedWithItsArrival: bytes that wait in the socket before anyone reads them are
// stamped with when they arrived, not with when the read returned.
func TestReadIsStampedWithItsArrival(t *testing.T) {
	t.Parallel()
	timestampsOn(t)
	rc, peer := loopbackPair(t)
	c := net.Conn(rc)
	beforeWrite := time.Now()
	if _, err := peer.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the bytes to wait in the socket", 5*time.Second, func() bool { return queued(t, rc.Conn) == 5 })
	beforeRead := time.Now()
	buf := make([]byte, 16)
	if n, err := c.Read(buf); err != nil || n != 5 {
		t.Fatalf("Read = %d, %v; want 5 bytes", n, err)
	}
	at := rc.arrived()
	if at.Before(beforeWrite) || at.After(beforeRead) {
		t.Errorf("read stamped %v after the write began and %v after the bytes were waiting; want between the two",
			at.Sub(beforeWrite), at.Sub(beforeRead))
	}
}

// TestDownloadEndsWhenTheLastBytesArrive: the end of a body that arrived while the transport's
// goroutine was held up (as behind other runs' handshakes) is when its bytes arrived, not when
// the goroutine got to read them; over TLS and plain HTTP/1.1.
func TestDownloadEndsWhenTheLastBytesArrive(t *testing.T) {
	t.Parallel()
	timestampsOn(t)
	ca := newCA(t)
	for _, tlsOn := range []bool{true, false} {
		t.Run("tls="+strconv.FormatBool(tlsOn), func(t *testing.T) {
			t.Parallel()
			release, done := make(chan struct{}), make(chan struct{})
			half := strings.Repeat("x", 1000)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", strconv.Itoa(2*len(half)))
				_, _ = w.Write([]byte(half))
				_ = http.NewResponseController(w).Flush()
				<-release
				_, _ = w.Write([]byte(half))
				_ = http.NewResponseController(w).Flush()
				close(done)
			})
			var srv *httptest.Server
			var plan tlsPlan
			if tlsOn {
				srv = newTLSServer(t, ca, false, h)
			} else {
				srv = newServer(t, h)
			}
			ts := newTransports(ca.pool)
			defer ts.closeAll()
			tr, _ := ts.get(identity{}, plan)

			// The test's hooks run after the runner's: on the first byte, the transport's goroutine
			// is held until the rest of the body waits in the socket.
			conns, held, resume := make(chan net.Conn, 1), make(chan struct{}), make(chan struct{})
			hooks := &httptrace.ClientTrace{
				GotConn:              func(info httptrace.GotConnInfo) { conns <- rxOf(info.Conn).Conn },
				GotFirstResponseByte: func() { close(held); <-resume },
			}
			tl := &timeline{}
			ctx := tl.withTrace(httptrace.WithClientTrace(context.Background(), hooks))
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			type sent struct {
				rsp *response
				err error
			}
			result := make(chan sent, 1)
			go func() {
				rsp, err := send(newClient(tr, true), req, tl, 1<<20, identity{})
				result <- sent{rsp, err}
			}()
			conn := <-conns
			<-held
			close(release)
			<-done
			testutil.Eventually(t, "the second half to wait in the socket", 5*time.Second,
				func() bool { return queued(t, conn) >= len(half) })
			bodyQueued := time.Now()
			close(resume)
			s := <-result
			rsp, err := s.rsp, s.err
			if err != nil {
				t.Fatal(err)
			}
			if len(rsp.body) != 2*len(half) {
				t.Fatalf("read %d bytes of the body, want %d", len(rsp.body), 2*len(half))
			}
			if tl.rx == nil {
				t.Fatal("the exchange did not find the connection's receive times")
			}
			if tl.end.After(bodyQueued) {
				t.Errorf("the body's end is stamped %v after its bytes were waiting in the socket; want at their arrival",
					tl.end.Sub(bodyQueued))
			}
			if got := tl.timings().GetDownload().AsDuration(); got <= 0 {
				t.Errorf("download = %v, want the time between the two halves", got)
			}
		})
	}
}

// TestHTTP2ExchangeFindsItsConnection: the receive times reach HTTP/2 exchanges too.
func TestHTTP2ExchangeFindsItsConnection(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	srv := newTLSServer(t, ca, false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(r.Proto))
	}), func(s *httptest.Server) { s.EnableHTTP2 = true })
	ts := newTransports(ca.pool)
	defer ts.closeAll()
	tr, _ := ts.get(identity{}, tlsPlan{httpVersion: lookoutv1.HttpVersion_HTTP_VERSION_2})
	tl := &timeline{}
	req, err := http.NewRequestWithContext(tl.withTrace(context.Background()), http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	rsp, err := send(newClient(tr, true), req, tl, 1<<20, identity{})
	if err != nil {
		t.Fatal(err)
	}
	if string(rsp.body) != "HTTP/2.0" {
		t.Fatalf("the target saw %q, want HTTP/2.0", rsp.body)
	}
	if tl.rx == nil {
		t.Error("the HTTP/2 exchange did not find the connection's receive times")
	}
}
