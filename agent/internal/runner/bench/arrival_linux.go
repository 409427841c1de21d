package main

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// arrivalListener accepts connections that remember when the kernel received the bytes of their
// last read (SO_TIMESTAMPNS): the timing target's record of when a request arrived, before its
// own goroutines got to run.
type arrivalListener struct{ net.Listener }

func (l arrivalListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	ac := &arrivalConn{Conn: c}
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			var serr error
			if err := raw.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
			}); err == nil && serr == nil {
				ac.raw = raw
			}
		}
	}
	return ac, nil
}

type arrivalConn struct {
	net.Conn
	raw syscall.RawConn
	oob [64]byte

	mu   sync.Mutex
	last time.Time
}

func (c *arrivalConn) Read(p []byte) (int, error) {
	if c.raw == nil || len(p) == 0 {
		n, err := c.Conn.Read(p)
		if n > 0 {
			c.set(time.Now())
		}
		return n, err
	}
	var n, oobn int
	var rerr error
	err := c.raw.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = syscall.Recvmsg(int(fd), p, c.oob[:], 0)
		return rerr != syscall.EAGAIN && rerr != syscall.EINTR
	})
	switch {
	case err != nil:
		return 0, err
	case rerr != nil:
		return 0, os.NewSyscallError("recvmsg", rerr)
	case n == 0:
		return 0, io.EOF
	}
	now := time.Now()
	at := now
	if msgs, err := syscall.ParseSocketControlMessage(c.oob[:oobn]); err == nil {
		for _, m := range msgs {
			if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SCM_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(syscall.Timespec{})) {
				ts := (*syscall.Timespec)(unsafe.Pointer(&m.Data[0]))
				if lag := now.Round(0).Sub(time.Unix(ts.Unix())); lag >= 0 && lag < time.Second {
					at = now.Add(-lag)
				}
			}
		}
	}
	c.set(at)
	return n, nil
}

func (c *arrivalConn) set(t time.Time) {
	c.mu.Lock()
	c.last = t
	c.mu.Unlock()
}

// arrived is when the bytes of the connection's last read arrived.
func (c *arrivalConn) arrived() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}
