package runner

import (
	"context"
	"crypto/tls"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/antchfx/xmlquery"
	"google.golang.org/protobuf/types/known/timestamppb"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// response is what one HTTP exchange produced, with the body read up to the cap.
type response struct {
	status     int
	statusText string
	proto      string
	header     http.Header
	body       []byte
	size       int64 // bytes read; the declared Content-Length when truncated
	truncated  bool
	tls        *tls.ConnectionState
	elapsed    time.Duration

	doc    any // parsed JSON body, once asked for
	docErr error
	parsed bool

	xmlDoc    *xmlquery.Node // parsed XML body, once asked for
	xmlErr    error
	xmlParsed bool
}

// xml returns the body parsed as XML, parsing it on first use.
func (r *response) xml() (*xmlquery.Node, error) {
	if !r.xmlParsed {
		r.xmlDoc, r.xmlErr = parseXML(r.body)
		r.xmlParsed = true
	}
	return r.xmlDoc, r.xmlErr
}

// json returns the body parsed as JSON, parsing it on first use.
func (r *response) json() (any, error) {
	if !r.parsed {
		r.doc, r.docErr = parseJSON(r.body)
		r.parsed = true
	}
	return r.doc, r.docErr
}

// exchange builds, sends and reads one request, recording what it can in res.
func (rs *runState) exchange(ctx context.Context, step *lookoutv1.Step, p preparedRequest, id identity,
	res *lookoutv1.StepResult) (*response, error) {
	if err := rs.addToken(ctx, &p, id); err != nil {
		return nil, err
	}
	t, tk := rs.transports.get(id, p.tls)
	tl := &timeline{handshakes: rs.handshakes}
	req, err := buildRequest(tl.withTrace(ctx), p)
	if err != nil {
		return nil, err
	}
	res.RequestHeaders = sortedHeaders(req.Header)
	rt := rs.authTransport(t, tk, p.auth, req.URL.Host)
	rsp, err := send(newClient(rt, !expects3xx(step.GetAssert())), req, tl, rs.bodyCap, id)
	res.Timings, res.ResolvedIp = tl.timings(), tl.ip()
	if rsp != nil {
		rsp.record(res)
	}
	return rsp, err
}

// send performs the request, presenting id's client certificate, and reads the body up to limit
// bytes.
func send(client *http.Client, req *http.Request, tl *timeline, limit int64, id identity) (*response, error) {
	tl.mark(&tl.start)
	hr, err := client.Do(req)
	if err != nil {
		tl.mark(&tl.end)
		return nil, withPhase(classifyExchange(err, tl, id), tl.phase())
	}
	defer hr.Body.Close()
	rsp := newResponse(hr)
	rsp.body, rsp.size, rsp.truncated, err = readBody(hr.Body, hr.ContentLength, limit)
	tl.markEnd()
	rsp.elapsed = tl.total()
	if err != nil {
		return rsp, withPhase(classifyTransport(err), phaseBody)
	}
	return rsp, nil
}

func newResponse(hr *http.Response) *response {
	text := strings.TrimSpace(strings.TrimPrefix(hr.Status, strconv.Itoa(hr.StatusCode)))
	if text == "" {
		text = http.StatusText(hr.StatusCode)
	}
	return &response{status: hr.StatusCode, statusText: text, proto: hr.Proto, header: hr.Header, tls: hr.TLS}
}

// readBody reads at most limit bytes and reports whether there was more.
func readBody(r io.Reader, contentLength, limit int64) (body []byte, size int64, truncated bool, err error) {
	body, err = io.ReadAll(io.LimitReader(r, limit+1))
	if truncated = int64(len(body)) > limit; truncated {
		body = body[:limit]
	}
	size = int64(len(body))
	if truncated && contentLength > size {
		size = contentLength
	}
	return body, size, truncated, err
}

// record copies the response's facts into the step result.
func (r *response) record(res *lookoutv1.StepResult) {
	res.StatusCode = int32(r.status)
	res.StatusText = r.statusText
	res.HttpVersion = r.proto
	res.ResponseHeaders = sortedHeaders(r.header)
	res.BodySize = r.size
	res.BodyTruncated = r.truncated
	if t := earliestNotAfter(r.tls); !t.IsZero() {
		res.ServerCertNotAfter = timestamppb.New(t)
	}
}

// earliestNotAfter is the soonest expiry among the certificates the server presented (leaf and
// chain), as blackbox_exporter's probe_ssl_earliest_cert_expiry reports it; zero without TLS.
func earliestNotAfter(cs *tls.ConnectionState) time.Time {
	var first time.Time
	if cs == nil {
		return first
	}
	for _, c := range cs.PeerCertificates {
		if first.IsZero() || c.NotAfter.Before(first) {
			first = c.NotAfter
		}
	}
	return first
}

// sortedHeaders lists h by name, one entry per value. A server may send thousands of headers: past
// the controller's cap the rest are counted in one last entry instead of listed.
func sortedHeaders(h http.Header) []*lookoutv1.Header {
	var out []*lookoutv1.Header
	omitted := 0
	for _, name := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[name] {
			if len(out) == lookoutv1.MaxResultHeaders-1 {
				omitted++
				continue
			}
			out = append(out, &lookoutv1.Header{Name: name, Value: v})
		}
	}
	if omitted > 0 {
		out = append(out, &lookoutv1.Header{Name: omittedHeaders, Value: strconv.Itoa(omitted) + " more not recorded"})
	}
	return out
}

// omittedHeaders names the entry that counts the headers past the cap: not a valid header name,
// so it cannot be taken for one the server sent.
const omittedHeaders = "(omitted)"

// expects3xx reports whether a step asserts a redirect status, in which case
// redirects are not followed.
func expects3xx(assertions []*lookoutv1.Assertion) bool {
	for _, a := range assertions {
		if a.GetSource() != lookoutv1.AssertSource_ASSERT_SOURCE_STATUS {
			continue
		}
		if code, err := strconv.Atoi(strings.TrimSpace(a.GetValue())); err == nil && code >= 300 && code < 400 {
			return true
		}
	}
	return false
}

// headerValue returns the values of a response header joined by ", ".
func (r *response) headerValue(name string) (string, bool) {
	values := r.header.Values(name)
	return strings.Join(values, ", "), len(values) > 0
}

// cookie returns the value of a cookie the response sets.
func (r *response) cookie(name string) (string, bool) {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == name {
			return c.Value, true
		}
	}
	return "", false
}
