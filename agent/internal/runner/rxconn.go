package runner

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// rxConn is a dialed connection that remembers when the bytes of its last read arrived.
//
// firstByte and download end when a response's bytes arrive. A goroutine that reads them learns
// of them only once the Go scheduler runs it, and with many runs in flight on few cores it may
// wait in the run queue for milliseconds behind handshakes and other runs' work: stamped then,
// the figures carry that wait (docs/benchmarks.md, "Timing accuracy"). Where the kernel can say
// when a read's bytes were received (SO_TIMESTAMPNS on Linux), arrived is that moment; elsewhere
// it is when the read returned, as before.
type rxConn struct {
	net.Conn
	rx rxReader // reads and says when the bytes arrived; nil = plain reads, stamped on return

	mu   sync.Mutex
	last time.Time // arrival of the bytes of the last read that returned any
}

// rxReader reads from a connection and reports when the bytes it returned arrived (zero when it
// cannot tell).
type rxReader interface {
	read(p []byte) (n int, at time.Time, err error)
}

func (c *rxConn) Read(p []byte) (int, error) {
	if c.rx == nil {
		n, err := c.Conn.Read(p)
		if n > 0 {
			c.setLast(time.Now())
		}
		return n, err
	}
	n, at, err := c.rx.read(p)
	if n > 0 {
		c.setLast(arrival(at, time.Now()))
	}
	return n, err
}

func (c *rxConn) setLast(t time.Time) {
	c.mu.Lock()
	c.last = t
	c.mu.Unlock()
}

// arrived is when the bytes of the last read that returned any arrived; zero before any.
func (c *rxConn) arrived() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// maxRxLag bounds how far before the read's return a kernel timestamp is believed: farther back
// than that, bytes were waiting for a reader that was not reading (a body read slowly, data that
// came before the request), not for a core.
const maxRxLag = time.Second

// arrival turns the kernel's receive time at (wall clock) into a time with now's monotonic
// reading, so that it subtracts safely from the timeline's other stamps. A zero, future or
// implausibly old at gives now.
func arrival(at, now time.Time) time.Time {
	if at.IsZero() {
		return now
	}
	lag := now.Round(0).Sub(at)
	if lag < 0 || lag > maxRxLag {
		return now
	}
	return now.Add(-lag)
}

// dialRx wraps dial so that the connections it makes remember their reads' arrival.
func dialRx(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &rxConn{Conn: c, rx: newRxReader(c)}, nil
	}
}

// rxOf finds the rxConn under the connection an exchange got, through TLS; nil if there is none
// (a proxy's tunnel, an HTTP/2 connection the transport wrapped otherwise).
func rxOf(c net.Conn) *rxConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	rc, _ := c.(*rxConn)
	return rc
}
