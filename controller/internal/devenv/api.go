package devenv

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"log"
	"net"
	"net/http"
	"sync"
	"time"
)

// demoAPI is a small partner API behind mutual TLS: a token endpoint with basic auth, an orders
// endpoint with bearer auth, and a health endpoint.
type demoAPI struct {
	user, password string
	mu             sync.Mutex
	tokens         map[string]time.Time
	started        time.Time // /flaky fails for a while after it (alerting.go)
}

func (d *demoAPI) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", d.token)
	mux.HandleFunc("GET /orders", d.orders)
	mux.HandleFunc("GET /flaky", flaky(d.started))
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, map[string]string{"status": "ok"}) })
	return mux
}

func (d *demoAPI) token(w http.ResponseWriter, r *http.Request) {
	u, p, ok := r.BasicAuth()
	if !ok || u != d.user || p != d.password {
		w.Header().Set("WWW-Authenticate", `Basic realm="demo"`)
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	tok := rand.Text()
	d.mu.Lock()
	d.tokens[tok] = time.Now().Add(time.Hour)
	d.mu.Unlock()
	writeJSON(w, map[string]any{"access_token": tok, "expires_in": 3600})
}

func (d *demoAPI) orders(w http.ResponseWriter, r *http.Request) {
	tok, ok := bearer(r)
	d.mu.Lock()
	exp, known := d.tokens[tok]
	d.mu.Unlock()
	if !ok || !known || time.Now().After(exp) {
		http.Error(w, `{"error":"invalid_token"}`, http.StatusUnauthorized)
		return
	}
	writeJSON(w, map[string]any{"items": []map[string]any{{"id": "o-1001", "total": 42.5}, {"id": "o-1002", "total": 17}}})
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && h[:7] == "Bearer " {
		return h[7:], true
	}
	return "", false
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// serveDemoAPI listens on 127.0.0.1 with a server certificate from the demo CA and demands a client
// certificate signed by it. The server's own lines (TLS handshake errors and the like) go to errLog,
// never to the terminal where dev prints results.
func serveDemoAPI(p *demoPKI, api *demoAPI, errLog *log.Logger) (*http.Server, string, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	pool := x509.NewCertPool()
	pool.AddCert(p.ca)
	srv := &http.Server{Handler: api.handler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: errLog, TLSConfig: &tls.Config{
		Certificates: []tls.Certificate{p.server}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}}
	go func() { _ = srv.ServeTLS(lis, "", "") }()
	return srv, "https://" + lis.Addr().String(), nil
}
