package devenv

import (
	"bytes"
	"log"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// lockedBuffer is a log destination the test can read while the server writes to it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestDemoAPILogsToItsOwnLog: a client that hangs up during the TLS handshake makes net/http write
// a line; it lands in the log dev gives the demo API (demo-api.log), not on the process's stderr,
// where it would split the result stream.
func TestDemoAPILogsToItsOwnLog(t *testing.T) {
	p, err := newDemoPKI()
	if err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	srv, base, err := serveDemoAPI(p, &demoAPI{tokens: map[string]time.Time{}, started: time.Now()}, log.New(&out, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "https://"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte("not a TLS hello\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	testutil.Eventually(t, "the handshake error in the demo API's log", 10*time.Second, func() bool {
		return strings.Contains(out.String(), "TLS handshake error")
	})
}
