package runner

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// kernelArrivals says whether reads here learn when their bytes arrived.
const kernelArrivals = true

// kernelRx reads a TCP socket with recvmsg and takes the receive time the kernel attaches to it
// (SO_TIMESTAMPNS: for TCP, the arrival of the last segment the read consumed). A connection is
// read by one goroutine at a time, so the state of the read in progress lives here: recvmsg is
// bound once and each read allocates nothing.
type kernelRx struct {
	conn net.Conn
	raw  syscall.RawConn
	oob  []byte
	recv func(fd uintptr) bool // k.recvmsg, bound once

	p       []byte // the read in progress: its buffer, and what recvmsg said
	n, oobn int
	err     error
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
	keepTimestampsOn.Do(pinTimestamps)
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return nil
	}
	k := &kernelRx{conn: c, raw: raw, oob: make([]byte, syscall.CmsgSpace(int(unsafe.Sizeof(syscall.Timespec{}))))}
	k.recv = k.recvmsg
	return k
}

// keepTimestampsOn makes pinTimestamps run once per process.
var keepTimestampsOn sync.Once

// pinTimestamps keeps the kernel's receive timestamping on for as long as the process lives, with
// one socket that asks for it and is never closed. The kernel turns timestamping on when the
// first socket asks and off when the last one closes, each time by patching its code from a
// deferred work item: an agent whose runs do not overlap would pay for two patches a run,
// machine-wide, and its first reads after a quiet spell would come back without a time (they
// then fall back to the time the read returns).
func pinTimestamps() {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return
	}
	if syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1) != nil {
		_ = syscall.Close(fd)
	}
}

// recvmsg is one attempt to read, made again at once if a signal interrupted it; false asks to
// wait until the socket is readable.
func (k *kernelRx) recvmsg(fd uintptr) bool {
	for {
		k.n, k.oobn, _, _, k.err = syscall.Recvmsg(int(fd), k.p, k.oob, 0)
		if k.err != syscall.EINTR {
			return k.err != syscall.EAGAIN
		}
	}
}

func (k *kernelRx) read(p []byte) (int, time.Time, error) {
	if len(p) == 0 {
		return 0, time.Time{}, nil
	}
	k.p = p
	err := k.raw.Read(k.recv)
	k.p = nil
	switch {
	case err != nil:
		return 0, time.Time{}, k.opError(err)
	case k.err != nil:
		return 0, time.Time{}, k.opError(os.NewSyscallError("read", k.err))
	case k.n == 0:
		return 0, time.Time{}, io.EOF
	}
	return k.n, rxTime(k.oob[:k.oobn]), nil
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
	for len(oob) >= syscall.SizeofCmsghdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		size := int(h.Len)
		if size < syscall.SizeofCmsghdr || size > len(oob) {
			break
		}
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SCM_TIMESTAMPNS &&
			size >= syscall.CmsgLen(int(unsafe.Sizeof(syscall.Timespec{}))) {
			ts := (*syscall.Timespec)(unsafe.Pointer(&oob[syscall.CmsgLen(0)]))
			return time.Unix(ts.Unix())
		}
		oob = oob[min(len(oob), syscall.CmsgSpace(size-syscall.CmsgLen(0))):]
	}
	return time.Time{}
}
