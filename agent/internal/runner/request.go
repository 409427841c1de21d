package runner

import (
	"context"
	"encoding/base64"
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
	method, url, body string
	headers           []*lookoutv1.Header
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
	if p.body, err = rs.expand(req.GetBody()); err != nil {
		return p, err
	}
	if p.headers, err = rs.expandHeaders(req.GetHeaders()); err != nil {
		return p, err
	}
	return p, rs.applyAuth(&p, req.GetAuth())
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

// applyAuth adds the Authorization header the step's auth asks for,
// replacing one set by hand, and remembers its secret for redaction.
func (rs *runState) applyAuth(p *preparedRequest, auth *lookoutv1.Auth) error {
	value, err := rs.authorization(auth)
	if err != nil || value == "" {
		return err
	}
	p.headers = append(removeHeader(p.headers, "Authorization"),
		&lookoutv1.Header{Name: "Authorization", Value: value})
	return nil
}

func (rs *runState) authorization(auth *lookoutv1.Auth) (string, error) {
	switch auth.GetType() {
	case lookoutv1.AuthType_AUTH_TYPE_BASIC:
		return rs.basicAuth(auth.GetCredentials())
	case lookoutv1.AuthType_AUTH_TYPE_BEARER:
		token, err := rs.expand(auth.GetToken())
		if err != nil {
			return "", err
		}
		rs.hide(secretForms(token)...)
		return "Bearer " + token, nil
	}
	return "", nil
}

func (rs *runState) basicAuth(name string) (string, error) {
	if name == "" {
		return "", failf(lookoutv1.ErrorClass_ERROR_CLASS_SECRET,
			"basic authentication names no credential set")
	}
	cred, ok := rs.secrets.Credentials[name]
	if !ok {
		return "", failf(lookoutv1.ErrorClass_ERROR_CLASS_SECRET,
			"credential set %q was not provided for this run", name)
	}
	rs.hide(basicForms(cred)...)
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(cred.Username+":"+cred.Password)), nil
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

// buildRequest turns a prepared request into an *http.Request bound to ctx.
func buildRequest(ctx context.Context, p preparedRequest) (*http.Request, error) {
	u, err := url.Parse(p.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, failf(lookoutv1.ErrorClass_ERROR_CLASS_HTTP,
			"invalid URL %q: want an absolute http:// or https:// URL", p.url)
	}
	var body io.Reader
	if p.body != "" {
		body = strings.NewReader(p.body)
	}
	req, err := http.NewRequestWithContext(ctx, p.method, p.url, body)
	if err != nil {
		return nil, failf(lookoutv1.ErrorClass_ERROR_CLASS_HTTP, "invalid request: %v", err)
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
	return req, nil
}
