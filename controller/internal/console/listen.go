package console

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// ListenOptions say where the console is served.
type ListenOptions struct {
	Addr              string // --http-listen
	CertFile, KeyFile string // --http-cert-file, --http-key-file: TLS; both or neither
}

// CheckListen refuses plain HTTP anywhere but loopback: the session cookie would cross a network
// in the clear.
func CheckListen(o ListenOptions) error {
	if (o.CertFile == "") != (o.KeyFile == "") {
		return errors.New("--http-cert-file and --http-key-file go together: give both, or neither for plain HTTP on loopback")
	}
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return fmt.Errorf("--http-listen %q: %w (expected HOST:PORT, e.g. 127.0.0.1:8080)", o.Addr, err)
	}
	if o.CertFile != "" || isLoopback(host) {
		return nil
	}
	return fmt.Errorf("--http-listen %s is not a loopback address: plain HTTP would send sign-in tokens and session cookies in the clear; give --http-cert-file and --http-key-file, or listen on 127.0.0.1", o.Addr)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Server is the console's HTTP(S) listener.
type Server struct {
	srv     *http.Server
	lis     net.Listener
	tls     bool
	serving bool
	done    chan struct{}
}

// Listen checks o, opens the listener and loads the certificate, without serving yet.
func Listen(o ListenOptions, h http.Handler) (*Server, error) {
	if err := CheckListen(o); err != nil {
		return nil, err
	}
	s := &Server{srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}, done: make(chan struct{})}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("--http-cert-file/--http-key-file: %w", err)
		}
		s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.tls = true
	}
	lis, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("--http-listen %s: %w", o.Addr, err)
	}
	s.lis = lis
	return s, nil
}

// Handle sets the handler; call it before Serve.
func (s *Server) Handle(h http.Handler) { s.srv.Handler = h }

// TLS says whether the console is served over TLS (its cookie is then Secure).
func (s *Server) TLS() bool { return s.tls }

// URL is where a browser reaches the console.
func (s *Server) URL() string {
	scheme := "http"
	if s.tls {
		scheme = "https"
	}
	return scheme + "://" + s.lis.Addr().String()
}

// Serve serves until Close; failed is called when serving stops for another reason.
func (s *Server) Serve(failed func(error)) {
	s.serving = true
	go func() {
		defer close(s.done)
		var err error
		if s.tls {
			err = s.srv.ServeTLS(s.lis, "", "")
		} else {
			err = s.srv.Serve(s.lis)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			failed(err)
		}
	}()
}

// Close stops the listener and the open connections, and waits for Serve to return.
func (s *Server) Close() {
	_ = s.srv.Close()
	_ = s.lis.Close()
	if s.serving {
		<-s.done
	}
}
