package runner

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// rawServer serves each TCP connection with handle, on loopback. Cleanup
// closes the listener and every connection and waits for the handlers.
func rawServer(t *testing.T, handle func(c net.Conn, done <-chan struct{})) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { handle(c, done) })
		}
	})
	t.Cleanup(func() {
		close(done)
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}

// drip writes chunk every interval until the connection or the test ends.
func drip(c net.Conn, done <-chan struct{}, head, chunk string, interval time.Duration) {
	if _, err := io.WriteString(c, head); err != nil {
		return
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			if _, err := io.WriteString(c, chunk); err != nil {
				return
			}
		}
	}
}

// readRequest consumes a request head so the client starts waiting.
func readRequest(c net.Conn) {
	buf := make([]byte, 4096)
	_, _ = c.Read(buf)
}

func TestHostileTargets(t *testing.T) {
	t.Parallel()
	slowHeaders := rawServer(t, func(c net.Conn, done <-chan struct{}) {
		readRequest(c)
		drip(c, done, "HTTP/1.1 200 OK\r\n", "X-Slow: yes\r\n", 20*time.Millisecond)
	})
	slowBody := rawServer(t, func(c net.Conn, done <-chan struct{}) {
		readRequest(c)
		drip(c, done, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nstart", ".", 20*time.Millisecond)
	})
	silentTLS := rawServer(t, func(c net.Conn, done <-chan struct{}) {
		readRequest(c) // the ClientHello, never answered
		<-done
	})
	headerFlood := rawServer(t, func(c net.Conn, done <-chan struct{}) {
		readRequest(c)
		line := "X-Flood: " + strings.Repeat("f", 1000) + "\r\n"
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\n"+strings.Repeat(line, 2000)+"\r\n")
	})
	timeout := durationpb.New(time.Second)
	tests := map[string]struct {
		url  string
		want stepBrief
		// noStepTimeout: the case is about a limit, not a timeout; a 1s step timeout made it a race
		// between reading 2 MB of headers and the clock, which the clock won on a loaded machine.
		noStepTimeout bool
	}{
		"slow headers": {url: "http://" + slowHeaders, want: stepBrief{Class: lookoutv1.ErrorClass_ERROR_CLASS_TIMEOUT,
			Error: "the step timeout of 1s was reached while receiving the response headers"}},
		"slow body": {url: "http://" + slowBody, want: stepBrief{Status: 200, Class: lookoutv1.ErrorClass_ERROR_CLASS_TIMEOUT,
			Error: "the step timeout of 1s was reached while reading the response body"}},
		"TLS handshake never completes": {url: "https://" + silentTLS, want: stepBrief{Class: lookoutv1.ErrorClass_ERROR_CLASS_TIMEOUT,
			Error: "the step timeout of 1s was reached during the TLS handshake"}},
		"header flood": {url: "http://" + headerFlood, noStepTimeout: true, want: stepBrief{Class: lookoutv1.ErrorClass_ERROR_CLASS_HTTP,
			Error: "the response headers exceed the limit of 1 MiB"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			step := get("s", tt.url)
			if !tt.noStepTimeout {
				step.Timeout = timeout
			}
			res := runMonitor(t, New(Options{}), monitor(step), nil)
			tt.want.Name, tt.want.Attempts = "s", 1
			if diff := cmp.Diff(briefs(res), []stepBrief{tt.want}); diff != "" {
				t.Errorf("steps (-got +want):\n%s", diff)
			}
		})
	}
}

func TestGzipBomb(t *testing.T) {
	t.Parallel()
	// One member holds 1 MiB of zeros in about 1 KiB; a gzip stream may
	// chain members, so 1024 of them inflate to 1 GiB.
	var member bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	zw.Write(make([]byte, 1<<20))
	zw.Close()
	bomb := bytes.Repeat(member.Bytes(), 1024)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(bomb)
	}))
	res := runMonitor(t, New(Options{BodyCap: 1 << 20}), monitor(get("bomb", srv.URL, statusIs("200"))), nil)
	st := res.GetSteps()[0]
	type got struct {
		Passed    bool
		Size      int64
		Truncated bool
	}
	if diff := cmp.Diff(got{st.GetPassed(), st.GetBodySize(), st.GetBodyTruncated()}, got{true, 1 << 20, true}); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}
}

// TestHostileBodies covers bodies that are not what the assertions expect:
// malformed JSON, bytes that are not UTF-8 in the body and in headers. The
// result must still be a valid protobuf message.
func TestHostileBodies(t *testing.T) {
	t.Parallel()
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Name", "caf\xe9")
		switch r.URL.Path {
		case "/truncated":
			fmt.Fprint(w, `{"items":[{"id":`)
		case "/latin1":
			fmt.Fprint(w, "{\"name\":\"caf\xe9\"}")
		}
	}))
	tests := map[string]struct {
		path    string
		asserts []*lookoutv1.Assertion
		want    stepBrief
	}{
		"malformed JSON": {path: "/truncated", asserts: []*lookoutv1.Assertion{assertion(sJSON, "items[0].id", cExists, "")},
			want: stepBrief{Status: 200, Class: lookoutv1.ErrorClass_ERROR_CLASS_ASSERTION,
				Error: "response body is not valid JSON: unexpected EOF"}},
		"invalid UTF-8": {path: "/latin1", asserts: []*lookoutv1.Assertion{
			assertion(sJSON, "name", cEq, "caf\uFFFD"),
			assertion(sHeader, "X-Name", cEq, "nope"),
		}, want: stepBrief{Status: 200, Class: lookoutv1.ErrorClass_ERROR_CLASS_ASSERTION,
			Error: `expected header "X-Name" to equal "nope", got "caf\xe9"`}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res := runMonitor(t, New(Options{}), monitor(get("s", srv.URL+tt.path, tt.asserts...)), nil)
			tt.want.Name, tt.want.Attempts = "s", 1
			if diff := cmp.Diff(briefs(res), []stepBrief{tt.want}); diff != "" {
				t.Errorf("steps (-got +want):\n%s", diff)
			}
			if _, err := proto.Marshal(res); err != nil {
				t.Errorf("the result cannot be marshaled: %v", err)
			}
		})
	}
}
