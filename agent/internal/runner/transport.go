package runner

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"time"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

const (
	// maxRedirects is how many redirects a step follows, as Uptrends does.
	maxRedirects = 50
	// maxHeaderBytes caps the response headers of one response.
	maxHeaderBytes = 1 << 20
)

// tlsPlan is a step's TLS and HTTP version choice, variables resolved.
type tlsPlan struct {
	insecure   bool
	minVersion uint16 // 0 = Go's default
	maxVersion uint16
	serverName string
	// caBundle is the step's extra CA certificates as PEM text, already
	// checked by ParseCABundle. Being part of the plan, it is part of the
	// transport key: a connection verified against one bundle is never
	// reused by a step that trusts another (or none).
	caBundle    string
	httpVersion lookoutv1.HttpVersion
}

// transportKey identifies a connection pool within one run: connections are
// shared only between steps with the same identity and the same TLS choices.
type transportKey struct {
	identity string
	tls      tlsPlan
}

// transports hands out one http.Transport per transportKey for one run. It
// is not safe for concurrent use: a run's steps are sequential.
type transports struct {
	rootCAs *x509.CertPool
	pool    map[transportKey]*http.Transport
}

func newTransports(rootCAs *x509.CertPool) *transports {
	return &transports{rootCAs: rootCAs, pool: map[transportKey]*http.Transport{}}
}

func (ts *transports) get(id identity, plan tlsPlan) (*http.Transport, transportKey) {
	key := transportKey{identity: id.key, tls: plan}
	if t, ok := ts.pool[key]; ok {
		return t, key
	}
	t := newTransport(ts.tlsConfig(id, plan), plan.httpVersion)
	ts.pool[key] = t
	return t, key
}

// closeAll drops every pooled connection; called when the run ends.
func (ts *transports) closeAll() {
	for _, t := range ts.pool {
		t.CloseIdleConnections()
	}
}

func (ts *transports) tlsConfig(id identity, plan tlsPlan) *tls.Config {
	cfg := &tls.Config{
		RootCAs:            ts.roots(plan.caBundle),
		InsecureSkipVerify: plan.insecure, //nolint:gosec // the step asked for it
		MinVersion:         plan.minVersion,
		MaxVersion:         plan.maxVersion,
		ServerName:         plan.serverName,
	}
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

// roots returns the agent's roots, plus the certificates of bundle when the
// step gives one. The agent's pool is copied, never changed.
func (ts *transports) roots(bundle string) *x509.CertPool {
	if bundle == "" {
		return ts.rootCAs
	}
	var pool *x509.CertPool
	switch {
	case ts.rootCAs != nil:
		pool = ts.rootCAs.Clone()
	default:
		var err error
		if pool, err = x509.SystemCertPool(); err != nil {
			pool = x509.NewCertPool() // no system roots here: the bundle alone
		}
	}
	certs, _ := lookoutv1.ParseCABundle(bundle) // checked in tlsPlan
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool
}

func newTransport(cfg *tls.Config, version lookoutv1.HttpVersion) *http.Transport {
	dialer := &net.Dialer{KeepAlive: 30 * time.Second}
	t := &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            dialRx(dialer.DialContext),
		TLSClientConfig:        cfg,
		ForceAttemptHTTP2:      true,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: maxHeaderBytes,
	}
	switch version {
	case lookoutv1.HttpVersion_HTTP_VERSION_1_1:
		t.Protocols = new(http.Protocols)
		t.Protocols.SetHTTP1(true)
	case lookoutv1.HttpVersion_HTTP_VERSION_2:
		t.Protocols = new(http.Protocols)
		t.Protocols.SetHTTP2(true)
		t.Protocols.SetUnencryptedHTTP2(true)
	}
	return t
}

// newClient returns a client on t that follows up to 50 redirects, or none.
func newClient(t http.RoundTripper, follow bool) *http.Client {
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

// tlsVersions maps the monitor's TLS versions to crypto/tls's.
var tlsVersions = map[lookoutv1.TlsVersion]uint16{
	lookoutv1.TlsVersion_TLS_VERSION_1_0: tls.VersionTLS10,
	lookoutv1.TlsVersion_TLS_VERSION_1_1: tls.VersionTLS11,
	lookoutv1.TlsVersion_TLS_VERSION_1_2: tls.VersionTLS12,
	lookoutv1.TlsVersion_TLS_VERSION_1_3: tls.VersionTLS13,
}
