package runner

import (
	"crypto/x509"
	"encoding/base64"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mccutchen/go-httpbin/v2/httpbin"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// These tests run monitors against go-httpbin, a real and widely used HTTP test peer, so that the
// runner's idea of basic and digest auth, redirects, cookies, JSON, XML, gzip and delays is checked
// against someone else's implementation and not only against servers written for the tests.

func httpbinServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(httpbin.New(httpbin.WithMaxDuration(5 * time.Second)))
	t.Cleanup(srv.Close)
	return srv.URL
}

func extract(name string, from lookoutv1.ExtractFrom, path string) *lookoutv1.Extraction {
	return &lookoutv1.Extraction{Name: name, From: from, Path: path}
}

const (
	aStatus = lookoutv1.AssertSource_ASSERT_SOURCE_STATUS
	aBody   = lookoutv1.AssertSource_ASSERT_SOURCE_BODY
	aJSON   = lookoutv1.AssertSource_ASSERT_SOURCE_JSON
	aXPath  = lookoutv1.AssertSource_ASSERT_SOURCE_XPATH
	aSize   = lookoutv1.AssertSource_ASSERT_SOURCE_SIZE
	aTime   = lookoutv1.AssertSource_ASSERT_SOURCE_DURATION
	ge      = lookoutv1.Comparison_COMPARISON_GREATER_OR_EQUAL
	eq      = lookoutv1.Comparison_COMPARISON_EQUAL
	has     = lookoutv1.Comparison_COMPARISON_CONTAINS
)

func TestHTTPBin(t *testing.T) {
	base := httpbinServer(t)
	r := New(Options{})
	creds := &Secrets{Credentials: map[string]Credential{"api-user": {Username: "alice", Password: "pa55-w0rd-9"}}}
	withAuth := func(s *lookoutv1.Step, typ lookoutv1.AuthType) *lookoutv1.Step {
		s.Request.Auth = &lookoutv1.Auth{Type: typ, Credentials: "api-user"}
		return s
	}

	cases := []struct {
		name    string
		steps   []*lookoutv1.Step
		secrets *Secrets
		want    []stepBrief // Name, Passed, Class are compared
		check   func(t *testing.T, res *lookoutv1.RunResult)
	}{
		{
			name:    "basic auth",
			steps:   []*lookoutv1.Step{withAuth(get("basic", base+"/basic-auth/alice/pa55-w0rd-9", statusIs("200")), lookoutv1.AuthType_AUTH_TYPE_BASIC)},
			secrets: creds,
			want:    []stepBrief{{Name: "basic", Passed: true}},
		},
		{
			name:    "basic auth, wrong password",
			steps:   []*lookoutv1.Step{withAuth(get("basic", base+"/basic-auth/alice/another", statusIs("200")), lookoutv1.AuthType_AUTH_TYPE_BASIC)},
			secrets: creds,
			want:    []stepBrief{{Name: "basic", Class: lookoutv1.ErrorClass_ERROR_CLASS_ASSERTION}},
			check: func(t *testing.T, res *lookoutv1.RunResult) {
				if msg := res.Steps[0].Assertions[0].Message; !strings.Contains(msg, "expected status 200, got 401") {
					t.Errorf("assertion message %q", msg)
				}
			},
		},
		{
			name: "digest auth MD5 and SHA-256",
			steps: []*lookoutv1.Step{
				withAuth(get("md5", base+"/digest-auth/auth/alice/pa55-w0rd-9/MD5", statusIs("200")), lookoutv1.AuthType_AUTH_TYPE_DIGEST),
				withAuth(get("sha256", base+"/digest-auth/auth/alice/pa55-w0rd-9/SHA-256", statusIs("200")), lookoutv1.AuthType_AUTH_TYPE_DIGEST),
			},
			secrets: creds,
			want:    []stepBrief{{Name: "md5", Passed: true}, {Name: "sha256", Passed: true}},
		},
		{
			name:  "redirects followed, and kept when the step asserts a 3xx",
			steps: []*lookoutv1.Step{get("follow", base+"/redirect/3", statusIs("200")), get("inspect", base+"/redirect/3", statusIs("302"))},
			want:  []stepBrief{{Name: "follow", Passed: true}, {Name: "inspect", Passed: true}},
		},
		{
			name: "absolute redirects followed, and kept when the step asserts a 3xx",
			steps: []*lookoutv1.Step{
				get("follow", base+"/absolute-redirect/2", statusIs("200"), assertion(aJSON, "$.url", eq, base+"/get")),
				get("inspect", base+"/absolute-redirect/2", statusIs("302"),
					assertion(lookoutv1.AssertSource_ASSERT_SOURCE_HEADER, "Location", eq, base+"/absolute-redirect/1")),
			},
			want: []stepBrief{{Name: "follow", Passed: true}, {Name: "inspect", Passed: true}},
		},
		{
			name:  "redirect chain beyond the limit",
			steps: []*lookoutv1.Step{get("loop", base+"/redirect/60", statusIs("200"))},
			want:  []stepBrief{{Name: "loop", Class: lookoutv1.ErrorClass_ERROR_CLASS_HTTP}},
			check: func(t *testing.T, res *lookoutv1.RunResult) {
				if e := res.Steps[0].Error; !strings.Contains(e, "redirect") {
					t.Errorf("error %q does not mention redirects", e)
				}
			},
		},
		{
			name:  "status 503",
			steps: []*lookoutv1.Step{get("down", base+"/status/503", statusIs("200"))},
			want:  []stepBrief{{Name: "down", Class: lookoutv1.ErrorClass_ERROR_CLASS_ASSERTION}},
			check: func(t *testing.T, res *lookoutv1.RunResult) {
				if msg := res.Steps[0].Assertions[0].Message; msg != "expected status 200, got 503" {
					t.Errorf("assertion message %q", msg)
				}
			},
		},
		{
			name: "cookie set, extracted and sent back",
			steps: []*lookoutv1.Step{
				func() *lookoutv1.Step {
					s := get("set", base+"/cookies/set?session=abc123", statusIs("302"))
					s.Extract = []*lookoutv1.Extraction{extract("sid", lookoutv1.ExtractFrom_EXTRACT_FROM_COOKIE, "session")}
					return s
				}(),
				func() *lookoutv1.Step {
					s := get("echo", base+"/cookies", statusIs("200"), assertion(aJSON, "$.cookies.session", eq, "abc123"))
					s.Request.Headers = []*lookoutv1.Header{{Name: "Cookie", Value: "session={{sid}}"}}
					return s
				}(),
			},
			want: []stepBrief{{Name: "set", Passed: true}, {Name: "echo", Passed: true}},
		},
		{
			name: "JSON extraction (short and $. forms) feeds a later request",
			steps: []*lookoutv1.Step{
				func() *lookoutv1.Step {
					s := get("json", base+"/json", statusIs("200"))
					s.Extract = []*lookoutv1.Extraction{
						extract("author", lookoutv1.ExtractFrom_EXTRACT_FROM_JSON, "slideshow.author"),
						extract("title", lookoutv1.ExtractFrom_EXTRACT_FROM_JSON, "$.slideshow.slides[1].title"),
					}
					return s
				}(),
				func() *lookoutv1.Step {
					s := get("anything", base+"/anything?what={{title}}", statusIs("200"),
						assertion(aJSON, "$.args.what[0]", eq, "Overview"),
						assertion(aJSON, "$.headers['X-Author'][0]", eq, "Yours Truly"),
						assertion(aJSON, "$.data", eq, "by Yours Truly"))
					s.Request.Method = "POST"
					s.Request.Headers = []*lookoutv1.Header{{Name: "X-Author", Value: "{{author}}"}}
					s.Request.Body = "by {{author}}"
					return s
				}(),
			},
			want: []stepBrief{{Name: "json", Passed: true}, {Name: "anything", Passed: true}},
		},
		{
			name:  "XML with XPath",
			steps: []*lookoutv1.Step{get("xml", base+"/xml", statusIs("200"), assertion(aXPath, "//slide[1]/title", eq, "Wake up to WonderWidgets!"), assertion(aXPath, "count(//slide)", eq, "2"))},
			want:  []stepBrief{{Name: "xml", Passed: true}},
		},
		{
			name: "delay beyond the step timeout",
			steps: []*lookoutv1.Step{func() *lookoutv1.Step {
				s := get("slow", base+"/delay/2", statusIs("200"))
				s.Timeout = durationpb.New(300 * time.Millisecond)
				return s
			}()},
			want: []stepBrief{{Name: "slow", Class: lookoutv1.ErrorClass_ERROR_CLASS_TIMEOUT}},
		},
		{
			name: "body size and duration",
			steps: []*lookoutv1.Step{
				get("bytes", base+"/bytes/1500?seed=7", statusIs("200"), assertion(aSize, "", eq, "1500")),
				// Only a lower bound: the server waits at least this long, so the
				// assertion cannot flake on a slow machine.
				get("slow", base+"/delay/0.15", statusIs("200"), assertion(aTime, "", ge, "150")),
				get("wrong size", base+"/bytes/10", assertion(aSize, "", ge, "11")),
			},
			want: []stepBrief{{Name: "bytes", Passed: true}, {Name: "slow", Passed: true},
				{Name: "wrong size", Class: lookoutv1.ErrorClass_ERROR_CLASS_ASSERTION}},
		},
		{
			name:  "gzip is decoded",
			steps: []*lookoutv1.Step{get("gzip", base+"/gzip", statusIs("200"), assertion(aJSON, "$.gzipped", eq, "true"))},
			want:  []stepBrief{{Name: "gzip", Passed: true}},
		},
		{
			name: "headers echoed: defaults overridable, credentials redacted",
			steps: []*lookoutv1.Step{func() *lookoutv1.Step {
				s := withAuth(get("headers", base+"/headers", statusIs("200"), assertion(aBody, "", has, "lookout-test/1")), lookoutv1.AuthType_AUTH_TYPE_BASIC)
				s.Request.Headers = []*lookoutv1.Header{{Name: "User-Agent", Value: "lookout-test/1"}}
				return s
			}()},
			secrets: creds,
			want:    []stepBrief{{Name: "headers", Passed: true}},
			check: func(t *testing.T, res *lookoutv1.RunResult) {
				out, _ := protojson.Marshal(res)
				basic := base64.StdEncoding.EncodeToString([]byte("alice:pa55-w0rd-9"))
				for _, secret := range []string{"pa55-w0rd-9", basic} {
					if strings.Contains(string(out), secret) {
						t.Errorf("the result holds a credential (%q):\n%s", secret[:4]+"…", out)
					}
				}
				if !strings.Contains(res.Steps[0].BodyExcerpt, "Authorization") {
					t.Errorf("the echoed body lost its Authorization header entirely; want it redacted, not dropped:\n%s", res.Steps[0].BodyExcerpt)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := runMonitor(t, r, monitor(tc.steps...), tc.secrets)
			got := briefs(res)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d step results, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Name != w.Name || g.Passed != w.Passed || g.Class != w.Class {
					t.Errorf("step %d: got %+v, want name %q passed %v class %v", i, g, w.Name, w.Passed, w.Class)
				}
			}
			if tc.check != nil {
				tc.check(t, res)
			}
		})
	}
}

// TestHTTPBinTLS runs a monitor against go-httpbin over HTTPS with HTTP/2:
// digest auth, a redirect, a cookie carried between steps and gzip, each
// through the same verified connection pool.
func TestHTTPBinTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(httpbin.New(httpbin.WithMaxDuration(5 * time.Second)))
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = quietLog()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	base := srv.URL

	digest := get("digest", base+"/digest-auth/auth/alice/pa55-w0rd-9/SHA-256", statusIs("200"))
	digest.Request.Auth = &lookoutv1.Auth{Type: lookoutv1.AuthType_AUTH_TYPE_DIGEST, Credentials: "api-user"}
	setCookie := get("set", base+"/cookies/set?theme=dark", statusIs("302"))
	setCookie.Extract = []*lookoutv1.Extraction{extract("theme", lookoutv1.ExtractFrom_EXTRACT_FROM_COOKIE, "theme")}
	echo := get("echo", base+"/anything", statusIs("200"), assertion(aJSON, "$.headers.Cookie[0]", eq, "theme=dark"))
	echo.Request.Headers = []*lookoutv1.Header{{Name: "Cookie", Value: "theme={{theme}}"}}
	m := monitor(digest,
		get("redirect", base+"/redirect/2", statusIs("200"), assertion(aJSON, "$.url", has, "/get")),
		setCookie, echo,
		get("gzip", base+"/gzip", statusIs("200"), assertion(aJSON, "$.gzipped", eq, "true")))

	creds := &Secrets{Credentials: map[string]Credential{"api-user": {Username: "alice", Password: "pa55-w0rd-9"}}}
	res := runMonitor(t, New(Options{RootCAs: roots}), m, creds)
	for _, st := range res.GetSteps() {
		if !st.GetPassed() {
			t.Errorf("step %q failed: %s %s", st.GetName(), st.GetErrorClass(), st.GetError())
			continue
		}
		if st.GetHttpVersion() != "HTTP/2.0" {
			t.Errorf("step %q used %q, want HTTP/2.0", st.GetName(), st.GetHttpVersion())
		}
	}

	// Without the server's CA the first step fails its handshake, as a TLS error.
	res = runMonitor(t, New(Options{RootCAs: x509.NewCertPool()}), m, creds)
	if c := res.GetSteps()[0].GetErrorClass(); c != lookoutv1.ErrorClass_ERROR_CLASS_TLS {
		t.Errorf("untrusted server: class %v (%s), want TLS", c, res.GetSteps()[0].GetError())
	}
}
