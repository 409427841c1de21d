package checkpoint

import (
	"crypto"
	"crypto/x509"
	"net"
	"net/http"
	"sync"
	"testing"
)

// presented records the client certificates a TLS server was shown.
type presented struct {
	mu    sync.Mutex
	certs []*x509.Certificate
}

func (p *presented) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			p.mu.Lock()
			p.certs = append(p.certs, r.TLS.PeerCertificates[0])
			p.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

// withKey counts the presented certificates whose public key is key's, and all of them.
func (p *presented) withKey(key crypto.PublicKey) (matching, all int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.certs {
		if k, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); ok && k.Equal(key) {
			matching++
		}
	}
	return matching, len(p.certs)
}

// recordingProxy forwards TCP connections to target and keeps every byte in both directions, so a
// test can search the raw TLS handshakes and records an agent exchanged.
type recordingProxy struct {
	mu    sync.Mutex
	bytes []byte
	lis   net.Listener
}

func startRecordingProxy(t *testing.T, target string) *recordingProxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &recordingProxy{lis: lis}
	t.Cleanup(func() { lis.Close() })
	go func() {
		for {
			in, err := lis.Accept()
			if err != nil {
				return
			}
			go p.pipe(in, target)
		}
	}()
	return p
}

func (p *recordingProxy) pipe(in net.Conn, target string) {
	defer in.Close()
	out, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer out.Close()
	done := make(chan struct{}, 2)
	copyRecorded := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				p.mu.Lock()
				p.bytes = append(p.bytes, buf[:n]...)
				p.mu.Unlock()
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		if c, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = c.CloseWrite()
		}
		done <- struct{}{}
	}
	go copyRecorded(out, in)
	go copyRecorded(in, out)
	<-done
	<-done
}

func (p *recordingProxy) captured() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]byte(nil), p.bytes...)
}
