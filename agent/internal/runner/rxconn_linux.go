package runner

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// kernelRx reads a TCP socket with recvmsg and takes the receive time the kernel attaches to it
// (SO_TIMESTAMPNS: for TCP, the arrival of the last segment the read consumed).
type kernelRx struct {
	conn net.Conn
	raw  syscall.RawConn
	oob  []byte
}

// newRxReader asks the kernel to timestamp c's received bytes; nil when c is not a socket that
// can (the reads are then stamped when they return).
func newRxReader(c net.Conn) rxReader {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return nil
	}
	return &kernelRx{conn: c, raw: raw, oob: make([]byte, syscall.CmsgSpace(int(unsafe.Sizeof(syscall.Timespec{}))))}
}

func (k *kernelRx) read(p []byte) (int, time.Time, error) {
	if len(p) == 0 {
		return 0, time.Time{}, nil
	}
	var n, oobn int
	var rerr error
	err := k.raw.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = syscall.Recvmsg(int(fd), p, k.oob, 0)
		if rerr == syscall.EINTR {
			return false // try again once readable
		}
		return rerr != syscall.EAGAIN
	})
	switch {
	case err != nil:
		return 0, time.Time{}, k.opError(err)
	case rerr != nil:
		return 0, time.Time{}, k.opError(os.NewSyscallError("read", rerr))
	case n == 0:
		return 0, time.Time{}, io.EOF
	}
	return n, rxTime(k.oob[:oobn]), nil
}

// opError words a failed read as net.Conn's Read does ("read tcp a->b: …"), so that what
// classifies transport errors sees the same errors with or without timestamps.
func (k *kernelRx) opError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		err = op.Err // the raw connection's "raw-read" wrapper
	}
	return &net.OpError{Op: "read", Net: k.conn.LocalAddr().Network(), Source: k.conn.LocalAddr(), Addr: k.conn.RemoteAddr(), Err: err}
}

// rxTime finds the SO_TIMESTAMPNS receive time in a read's control messages; zero if none.
func rxTime(oob []byte) time.Time {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}
	}
	for _, m := range msgs {
		if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SCM_TIMESTAMPNS &&
			len(m.Data) >= int(unsafe.Sizeof(syscall.Timespec{})) {
			ts := (*syscall.Timespec)(unsafe.Pointer(&m.Data[0]))
			return time.Unix(ts.Unix())
		}
	}
	return time.Time{}
}
