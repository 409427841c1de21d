package runner

import (
	"encoding/pem"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// lastRequest is what a test server saw of the last request.
type lastRequest struct {
	mu          sync.Mutex
	contentType string
	body        []byte
}

func (rc *lastRequest) handler(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.contentType, rc.body = r.Header.Get("Content-Type"), body
	rc.mu.Unlock()
}

func (rc *lastRequest) get() (string, []byte) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.contentType, rc.body
}

var binaryFile = File{Filename: "orders.bin", ContentType: "application/vnd.partner+octet", Content: []byte("\x00\xff\xfe binary\r\n\x80 payload")}

func TestBodyFile(t *testing.T) {
	t.Parallel()
	var rc lastRequest
	srv := newServer(t, http.HandlerFunc(rc.handler))
	secrets := &Secrets{Files: map[string]File{"payload": binaryFile}}
	tests := map[string]struct {
		headers []*lookoutv1.Header
		want    string
	}{
		"the file's content type":    {want: "application/vnd.partner+octet"},
		"a Content-Type header wins": {headers: []*lookoutv1.Header{{Name: "content-type", Value: "text/csv"}}, want: "text/csv"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			step := &lookoutv1.Step{Name: "put", Request: &lookoutv1.HttpRequest{Method: "PUT", Url: srv.URL, BodyFile: "payload", Headers: tt.headers}}
			res := runMonitor(t, New(Options{}), monitor(step), secrets)
			if !res.GetSteps()[0].GetPassed() {
				t.Fatalf("step failed: %s", res.GetSteps()[0].GetError())
			}
			ct, body := rc.get()
			if string(body) != string(binaryFile.Content) || ct != tt.want {
				t.Errorf("server lastRequest %q with type %q; want the file's exact bytes with %q", body, ct, tt.want)
			}
		})
	}

	step := &lookoutv1.Step{Name: "put", Request: &lookoutv1.HttpRequest{Method: "PUT", Url: srv.URL, BodyFile: "absent"}}
	res := runMonitor(t, New(Options{}), monitor(step), secrets)
	want := []stepBrief{{Name: "put", Attempts: 1, Class: lookoutv1.ErrorClass_ERROR_CLASS_SECRET, Error: `body_file: vault file "absent" was not provided for this run`}}
	if diff := cmp.Diff(briefs(res), want); diff != "" {
		t.Errorf("missing file (-got +want):\n%s", diff)
	}
}

func TestMultipartFilePart(t *testing.T) {
	t.Parallel()
	type part struct{ Name, Filename, ContentType, Content string }
	var (
		mu    sync.Mutex
		parts []part
	)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mr := multipart.NewReader(r.Body, params["boundary"])
		var got []part
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			b, _ := io.ReadAll(p)
			got = append(got, part{p.FormName(), p.FileName(), p.Header.Get("Content-Type"), string(b)})
		}
		mu.Lock()
		parts = got
		mu.Unlock()
	}))
	step := &lookoutv1.Step{Name: "upload", Request: &lookoutv1.HttpRequest{Method: "POST", Url: srv.URL, Multipart: []*lookoutv1.FormField{
		{Name: "note", Value: "hello"},
		{Name: "doc", File: "payload"},
		{Name: "renamed", File: "payload", Filename: "r.dat", ContentType: "application/octet-stream"},
	}}}
	res := runMonitor(t, New(Options{}), monitor(step), &Secrets{Files: map[string]File{"payload": binaryFile}})
	if !res.GetSteps()[0].GetPassed() {
		t.Fatalf("step failed: %s", res.GetSteps()[0].GetError())
	}
	mu.Lock()
	defer mu.Unlock()
	want := []part{
		{"note", "", "", "hello"},
		{"doc", "orders.bin", "application/vnd.partner+octet", string(binaryFile.Content)},
		{"renamed", "r.dat", "application/octet-stream", string(binaryFile.Content)},
	}
	if diff := cmp.Diff(parts, want); diff != "" {
		t.Errorf("parts the server lastRequest (-got +want):\n%s", diff)
	}
}

func TestCABundleFile(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	srv := newTLSServer(t, ca, false, echoTLS)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
	other := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: newCA(t).cert.Raw})
	secrets := &Secrets{Files: map[string]File{
		"partner-ca": {Filename: "ca.pem", Content: append([]byte("# partner CA\n"), caPEM...)},
		"other-ca":   {Filename: "other.pem", Content: other},
		"not-pem":    {Filename: "notes.txt", Content: []byte("just some text")},
	}}
	tests := map[string]struct {
		tls  *lookoutv1.TlsOptions
		want stepBrief
	}{
		"trusted through the file": {tls: &lookoutv1.TlsOptions{CaBundleFile: "partner-ca"}, want: stepBrief{Passed: true, Status: 200}},
		"file and inline bundle":   {tls: &lookoutv1.TlsOptions{CaBundle: string(other), CaBundleFile: "partner-ca"}, want: stepBrief{Passed: true, Status: 200}},
		"without it": {want: stepBrief{Class: lookoutv1.ErrorClass_ERROR_CLASS_TLS,
			Error: "TLS handshake failed: the server's certificate is signed by an unknown authority"}},
		"another CA": {tls: &lookoutv1.TlsOptions{CaBundleFile: "other-ca"}, want: stepBrief{Class: lookoutv1.ErrorClass_ERROR_CLASS_TLS,
			Error: "TLS handshake failed: the server's certificate is signed by an unknown authority"}},
		"a file with no certificate": {tls: &lookoutv1.TlsOptions{CaBundleFile: "not-pem"}, want: stepBrief{Class: lookoutv1.ErrorClass_ERROR_CLASS_TLS,
			Error: `tls.ca_bundle_file: vault file "not-pem" holds no certificate: give PEM text with -----BEGIN CERTIFICATE----- blocks`}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			step := get("s", srv.URL)
			step.Request.Tls = tt.tls
			// No RootCAs: the system roots, which do not hold the test CA.
			res := runMonitor(t, New(Options{}), monitor(step), secrets)
			tt.want.Name, tt.want.Attempts = "s", 1
			got := briefs(res)
			if len(got) == 1 && strings.HasPrefix(got[0].Error, tt.want.Error) && tt.want.Error != "" {
				got[0].Error = tt.want.Error // the platform may add detail after the reason
			}
			if diff := cmp.Diff(got, []stepBrief{tt.want}); diff != "" {
				t.Errorf("steps (-got +want):\n%s", diff)
			}
		})
	}
}

// TestSecretVariableRedacted sends a secret variable in the URL, a header and the body to
// go-httpbin's /anything, which echoes them all back, extracts and asserts on the echo, and
// checks that the value appears nowhere in the result while the server did receive it.
func TestSecretVariableRedacted(t *testing.T) {
	t.Parallel()
	base := httpbinServer(t)
	const secret = "sk_live-9f8Q.z7/Kx"
	m := monitor(&lookoutv1.Step{Name: "echo",
		Request: &lookoutv1.HttpRequest{Method: "POST", Url: base + "/anything/{{key}}",
			Headers: []*lookoutv1.Header{{Name: "X-Api-Key", Value: "{{key}}"}},
			Body:    `{"token": "{{key}}", "user": "{{user}}"}`},
		Extract: []*lookoutv1.Extraction{
			extract("echoed", lookoutv1.ExtractFrom_EXTRACT_FROM_JSON, "$.headers['X-Api-Key'][0]"),
			extract("user_seen", lookoutv1.ExtractFrom_EXTRACT_FROM_JSON, "$.json.user"),
		},
		Assert: []*lookoutv1.Assertion{
			{Source: aJSON, Path: "$.json.token", Comparison: eq, Value: "{{key}}"},
			{Source: aJSON, Path: "$.headers['X-Api-Key'][0]", Comparison: eq, Value: "not the key"},
		}},
		get("again", base+"/anything?k={{echoed}}", statusIs("200")))
	m.Variables = map[string]string{"user": "alice"}
	m.SecretVariables = map[string]string{"key": "partner-key"}
	res := runMonitor(t, New(Options{}), m, &Secrets{Values: map[string]string{"partner-key": secret}})

	js, err := protojson.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(js), secret) || strings.Contains(string(js), "sk_live-9f8Q") {
		t.Errorf("the result holds the secret:\n%s", js)
	}
	st := res.GetSteps()[0]
	if st.GetErrorClass() != lookoutv1.ErrorClass_ERROR_CLASS_ASSERTION || !st.GetAssertions()[0].GetPassed() {
		t.Fatalf("step 1: %v %q; want the first assertion to pass (httpbin lastRequest the value) and the second to fail", st.GetErrorClass(), st.GetError())
	}
	for _, where := range map[string]string{
		"url": st.GetUrl(), "body excerpt": st.GetBodyExcerpt(), "extracted variable": variableValue(st, "echoed"),
		"failed assertion": st.GetAssertions()[1].GetActual() + st.GetAssertions()[1].GetMessage(), "run message": res.GetMessage(),
	} {
		if !strings.Contains(where, redacted) {
			t.Errorf("%q does not show %s", where, redacted)
		}
	}
	if got := variableValue(st, "user_seen"); got != "alice" {
		t.Errorf("plain variable echoed as %q, want alice (only secrets are redacted)", got)
	}
}

func variableValue(st *lookoutv1.StepResult, name string) string {
	for _, v := range st.GetVariables() {
		if v.GetName() == name {
			return v.GetValue()
		}
	}
	return ""
}

func TestSecretVariableNotProvided(t *testing.T) {
	t.Parallel()
	srv := newServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	m := monitor(get("s", srv.URL+"/{{key}}"))
	m.SecretVariables = map[string]string{"key": "gone"}
	res := runMonitor(t, New(Options{}), m, &Secrets{})
	want := []stepBrief{{Name: "s", Attempts: 1, Class: lookoutv1.ErrorClass_ERROR_CLASS_SECRET,
		Error: `secret variable "key": vault secret "gone" was not provided for this run`}}
	if diff := cmp.Diff(briefs(res), want); diff != "" {
		t.Errorf("steps (-got +want):\n%s", diff)
	}
}
