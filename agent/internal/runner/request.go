package runner

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// userAgent is sent unless the step sets its own.
const userAgent = "Lookout-Agent/1 (synthetic monitoring)"

// preparedRequest is a step's request with every variable resolved.
type preparedRequest struct {
	method, url string
	body        string
	contentType string // sent when the step sets no Content-Type header
	multipart   bool   // contentType carries the boundary and always wins
	headers     []*lookoutv1.Header
	auth        authPlan // digest, NTLM and OAuth2: done during the exchange
	tls         tlsPlan
}

// resolveRequest applies variables and authentication to a step's request.
// On error the method and URL template are still set, for the result.
func (rs *runState) resolveRequest(req *lookoutv1.HttpRequest) (preparedRequest, error) {
	p := preparedRequest{method: strings.ToUpper(strings.TrimSpace(req.GetMethod())), url: req.GetUrl()}
	if p.method == "" {
		p.method = http.MethodGet
	}
	var err error
	if p.url, err = rs.expand(req.GetUrl()); err != nil {
		return preparedRequest{method: p.method, url: req.GetUrl()}, err
	}
	if err = rs.prepareBody(&p, req); err != nil {
		return p, err
	}
	if p.headers, err = rs.expandHeaders(req.GetHeaders()); err != nil {
		return p, err
	}
	if p.multipart {
		p.headers = removeHeader(p.headers, "Content-Type")
	}
	if p.tls, err = rs.tlsPlan(req); err != nil {
		return p, err
	}
	return p, rs.applyAuth(&p, req.GetAuth())
}

// tlsPlan resolves the step's TLS options and HTTP version.
func (rs *runState) tlsPlan(req *lookoutv1.HttpRequest) (tlsPlan, error) {
	o := req.GetTls()
	name, err := rs.expand(o.GetServerName())
	if err != nil {
		return tlsPlan{}, err
	}
	bundle, err := rs.caBundle(o)
	if err != nil {
		return tlsPlan{}, err
	}
	version := req.GetHttpVersion()
	if version == lookoutv1.HttpVersion_HTTP_VERSION_UNSPECIFIED && req.GetAuth().GetType() == lookoutv1.AuthType_AUTH_TYPE_NTLM {
		version = lookoutv1.HttpVersion_HTTP_VERSION_1_1 // NTLM authenticates a connection, which HTTP/2 multiplexes
	}
	return tlsPlan{
		insecure:    req.GetIgnoreCertificateErrors(),
		minVersion:  tlsVersions[o.GetMinVersion()],
		maxVersion:  tlsVersions[o.GetMaxVersion()],
		serverName:  strings.TrimSpace(name),
		caBundle:    bundle,
		httpVersion: version,
	}, nil
}

func (rs *runState) expandHeaders(headers []*lookoutv1.Header) ([]*lookoutv1.Header, error) {
	out := make([]*lookoutv1.Header, 0, len(headers))
	for _, h := range headers {
		name, err := rs.expand(h.GetName())
		if err != nil {
			return nil, err
		}
		value, err := rs.expand(h.GetValue())
		if err != nil {
			return nil, err
		}
		out = append(out, &lookoutv1.Header{Name: name, Value: value})
	}
	return out, nil
}

func removeHeader(headers []*lookoutv1.Header, name string) []*lookoutv1.Header {
	out := headers[:0]
	for _, h := range headers {
		if !strings.EqualFold(h.GetName(), name) {
			out = append(out, h)
		}
	}
	return out
}

func absoluteHTTP(u *url.URL) bool {
	return (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func invalidURL(u string) error {
	return failf(lookoutv1.ErrorClass_ERROR_CLASS_HTTP, "invalid URL %q: want an absolute http:// or https:// URL", u)
}

// buildRequest turns a prepared request into an *http.Request bound to ctx.
func buildRequest(ctx context.Context, p preparedRequest) (*http.Request, error) {
	var body io.Reader
	if p.body != "" {
		body = strings.NewReader(p.body)
	}
	req, err := http.NewRequestWithContext(ctx, p.method, p.url, body)
	if err != nil {
		if u, uerr := url.Parse(p.url); uerr != nil || !absoluteHTTP(u) {
			return nil, invalidURL(p.url) // a bad URL is reported first, as a bad method is
		}
		return nil, failf(lookoutv1.ErrorClass_ERROR_CLASS_HTTP, "invalid request: %v", err)
	}
	if !absoluteHTTP(req.URL) {
		return nil, invalidURL(p.url)
	}
	for _, h := range p.headers {
		if strings.EqualFold(h.GetName(), "Host") {
			req.Host = h.GetValue()
			continue
		}
		req.Header.Add(h.GetName(), h.GetValue())
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", userAgent)
	}
	if p.contentType != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", p.contentType)
	}
	return req, nil
}
