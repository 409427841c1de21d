package runner

import (
	"context"
	"crypto/tls"
	"net"
	"net/http/httptrace"
	"sync"
	"time"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"google.golang.org/protobuf/types/known/durationpb"
)

// timeline records when the phases of one request happened. With redirects,
// the phases of the last hop win. Hooks may run on other goroutines.
type timeline struct {
	mu                   sync.Mutex
	start, end           time.Time
	dnsStart, dnsDone    time.Time
	connStart, connDone  time.Time
	tlsStart, tlsDone    time.Time
	wroteRequest, gotRsp time.Time
	remoteIP             string
	// rx is the connection the exchange got, when it says when its reads' bytes arrived: the
	// first response byte and the end of the body are stamped with their arrival, not with when
	// a goroutine got to run after it.
	rx *rxConn
	// handshakes is the runner's bound on TLS handshakes at once; holding says this exchange holds
	// one of its tokens. A handshake starts once it has a token, so the TLS phase is the
	// handshake's own time, not the wait for a core.
	handshakes chan struct{}
	holding    bool
	tlsErr     error // how the handshake ended, once tlsDone is set
}

func (tl *timeline) mark(at *time.Time) {
	tl.mu.Lock()
	*at = time.Now()
	tl.mu.Unlock()
}

// withTrace returns ctx carrying hooks that fill tl.
func (tl *timeline) withTrace(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		DNSStart:             func(httptrace.DNSStartInfo) { tl.mark(&tl.dnsStart) },
		DNSDone:              func(httptrace.DNSDoneInfo) { tl.mark(&tl.dnsDone) },
		ConnectStart:         func(string, string) { tl.mark(&tl.connStart) },
		ConnectDone:          func(string, string, error) { tl.mark(&tl.connDone) },
		TLSHandshakeStart:    func() { tl.acquire(ctx); tl.mark(&tl.tlsStart) },
		TLSHandshakeDone:     tl.handshakeDone,
		GotConn:              tl.gotConn,
		WroteRequest:         func(httptrace.WroteRequestInfo) { tl.mark(&tl.wroteRequest) },
		GotFirstResponseByte: tl.firstByte,
	})
}

// acquire waits for a handshake token, or for ctx to end (the handshake then fails at once on
// the same ctx). It runs in the goroutine that is about to start the handshake.
func (tl *timeline) acquire(ctx context.Context) {
	if tl.handshakes == nil {
		return
	}
	select {
	case tl.handshakes <- struct{}{}:
		tl.mu.Lock()
		tl.holding = true
		tl.mu.Unlock()
	case <-ctx.Done():
	}
}

// release gives the token back once the handshake is over, whether it succeeded or not.
func (tl *timeline) release() {
	tl.mu.Lock()
	held := tl.holding
	tl.holding = false
	tl.mu.Unlock()
	if held {
		<-tl.handshakes
	}
}

func (tl *timeline) handshakeDone(_ tls.ConnectionState, err error) {
	tl.mu.Lock()
	tl.tlsDone, tl.tlsErr = time.Now(), err
	tl.mu.Unlock()
	tl.release()
}

func (tl *timeline) gotConn(info httptrace.GotConnInfo) {
	host, _, err := net.SplitHostPort(info.Conn.RemoteAddr().String())
	if err != nil {
		host = info.Conn.RemoteAddr().String()
	}
	tl.mu.Lock()
	tl.remoteIP, tl.rx = host, rxOf(info.Conn)
	tl.mu.Unlock()
}

// firstByte stamps the first response byte with the arrival of the read that brought it: the
// hook runs once the transport's goroutine has read it, which may be long after.
func (tl *timeline) firstByte() {
	now := time.Now()
	tl.mu.Lock()
	tl.gotRsp = tl.arrivedAfter(tl.start, now)
	tl.mu.Unlock()
}

// markEnd stamps the end of the body read with the arrival of its last bytes.
func (tl *timeline) markEnd() {
	now := time.Now()
	tl.mu.Lock()
	tl.end = tl.arrivedAfter(tl.gotRsp, now)
	tl.mu.Unlock()
}

// arrivedAfter is when the connection's last read arrived, if that is known and falls between
// from (this exchange's earlier stamp: an older read belongs to an earlier exchange) and now;
// otherwise now. Called with tl.mu held.
func (tl *timeline) arrivedAfter(from, now time.Time) time.Time {
	if tl.rx == nil {
		return now
	}
	at := tl.rx.arrived()
	if at.IsZero() || at.Before(from) || at.After(now) {
		return now
	}
	return at
}

// Phases of an exchange, as they appear in timeout messages.
const (
	phaseConnecting = "while connecting"
	phaseTLS        = "during the TLS handshake"
	phaseWaiting    = "while waiting for the response"
	phaseHeaders    = "while receiving the response headers"
	phaseBody       = "while reading the response body"
)

// phase tells where an exchange that has not produced a response stopped.
// handshook says whether this request made a TLS handshake that completed.
func (tl *timeline) handshook() bool {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return !tl.tlsDone.IsZero() && tl.tlsErr == nil
}

func (tl *timeline) phase() string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	switch {
	case !tl.gotRsp.IsZero():
		return phaseHeaders
	case !tl.tlsStart.IsZero() && tl.tlsDone.IsZero():
		return phaseTLS
	case !tl.connStart.IsZero() && tl.connDone.IsZero():
		return phaseConnecting
	}
	return phaseWaiting
}

func (tl *timeline) ip() string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return tl.remoteIP
}

func (tl *timeline) total() time.Duration {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return between(tl.start, tl.end)
}

// timings converts tl into the result's timings. first_byte runs from the
// request being written to the first response byte; download from there to
// the end of the (capped) body; total from the start to the end.
func (tl *timeline) timings() *lookoutv1.Timings {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return &lookoutv1.Timings{
		Dns:       durationpb.New(between(tl.dnsStart, tl.dnsDone)),
		Connect:   durationpb.New(between(tl.connStart, tl.connDone)),
		Tls:       durationpb.New(between(tl.tlsStart, tl.tlsDone)),
		FirstByte: durationpb.New(between(tl.wroteRequest, tl.gotRsp)),
		Download:  durationpb.New(between(tl.gotRsp, tl.end)),
		Total:     durationpb.New(between(tl.start, tl.end)),
	}
}

// between is b-a, or 0 when either is unknown or they are out of order.
func between(a, b time.Time) time.Duration {
	if a.IsZero() || b.IsZero() || b.Before(a) {
		return 0
	}
	return b.Sub(a)
}
