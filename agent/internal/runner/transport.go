package runner

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"time"
)

// maxRedirects is how many redirects a step follows, as Uptrends does.
const maxRedirects = 50

// transportKey identifies a connection pool within one run.
type transportKey struct {
	identity string
	insecure bool
}

// transports hands out one http.Transport per (identity, ignore-certs) pair
// for one run. It is not safe for concurrent use: a run's steps are sequential.
type transports struct {
	rootCAs *x509.CertPool
	pool    map[transportKey]*http.Transport
}

func newTransports(rootCAs *x509.CertPool) *transports {
	return &transports{rootCAs: rootCAs, pool: map[transportKey]*http.Transport{}}
}

func (ts *transports) get(id identity, insecure bool) *http.Transport {
	key := transportKey{identity: id.key, insecure: insecure}
	if t, ok := ts.pool[key]; ok {
		return t
	}
	t := newTransport(ts.tlsConfig(id, insecure))
	ts.pool[key] = t
	return t
}

// closeAll drops every pooled connection; called when the run ends.
func (ts *transports) closeAll() {
	for _, t := range ts.pool {
		t.CloseIdleConnections()
	}
}

func (ts *transports) tlsConfig(id identity, insecure bool) *tls.Config {
	cfg := &tls.Config{RootCAs: ts.rootCAs, InsecureSkipVerify: insecure} //nolint:gosec // the step asked for it
	if id.cert != nil {
		cert := id.cert
		// Always present the chosen certificate, even when the server's list of
		// acceptable CAs does not name its issuer (crypto/tls would send none).
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return cert, nil
		}
	}
	return cfg
}

func newTransport(cfg *tls.Config) *http.Transport {
	dialer := &net.Dialer{KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         dialer.DialContext,
		TLSClientConfig:     cfg,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
	}
}

// newClient returns a client on t that follows up to 50 redirects, or none.
func newClient(t *http.Transport, follow bool) *http.Client {
	return &http.Client{Transport: t, CheckRedirect: func(_ *http.Request, via []*http.Request) error {
		if !follow {
			return http.ErrUseLastResponse
		}
		if len(via) > maxRedirects {
			return errTooManyRedirects
		}
		return nil
	}}
}

var errTooManyRedirects = errors.New("stopped after 50 redirects")
