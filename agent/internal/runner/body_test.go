package runner

import (
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// received is what the echo server saw of one request.
type received struct {
	ContentType string
	Body        string
	Form        map[string][]string
	Parts       []string // "name|filename|content type|content"
}

// echoServer records each request's body as the server decodes it.
func echoServer(t *testing.T) (string, <-chan received) {
	got := make(chan received, 1)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := received{ContentType: r.Header.Get("Content-Type")}
		mt, _, _ := mime.ParseMediaType(rec.ContentType)
		switch mt {
		case "application/x-www-form-urlencoded":
			if err := r.ParseForm(); err == nil {
				rec.Form = r.PostForm
			}
		case "multipart/form-data":
			mr, err := r.MultipartReader()
			for err == nil {
				var p *multipart.Part
				if p, err = mr.NextPart(); err == nil {
					b, _ := io.ReadAll(p)
					rec.Parts = append(rec.Parts, strings.Join([]string{p.FormName(), p.FileName(), p.Header.Get("Content-Type"), string(b)}, "|"))
				}
			}
		default:
			b, _ := io.ReadAll(r.Body)
			rec.Body = string(b)
		}
		got <- rec
	}))
	return srv.URL, got
}

func TestRequestBodies(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		req  *lookoutv1.HttpRequest
		want received
	}{
		"JSON body gets a JSON type": {
			req:  &lookoutv1.HttpRequest{Method: "POST", Body: ` {"id": "{{id}}"}`},
			want: received{ContentType: "application/json", Body: ` {"id": "42"}`},
		},
		"XML body": {
			req:  &lookoutv1.HttpRequest{Method: "POST", Body: `<a>{{id}}</a>`},
			want: received{ContentType: "application/xml", Body: `<a>42</a>`},
		},
		"text body": {
			req:  &lookoutv1.HttpRequest{Method: "POST", Body: `id={{id}}`},
			want: received{ContentType: "text/plain; charset=utf-8", Body: `id=42`},
		},
		"the step's content type wins": {
			req: &lookoutv1.HttpRequest{Method: "POST", Body: `{"a":1}`,
				Headers: []*lookoutv1.Header{{Name: "content-type", Value: "application/vnd.api+json"}}},
			want: received{ContentType: "application/vnd.api+json", Body: `{"a":1}`},
		},
		"URL-encoded form": {
			req: &lookoutv1.HttpRequest{Method: "POST", Form: []*lookoutv1.FormField{
				{Name: "grant_type", Value: "password"}, {Name: "id", Value: "{{id}}"}, {Name: "q", Value: "a&b=c d"}, {Name: "id", Value: "2"},
			}},
			want: received{ContentType: "application/x-www-form-urlencoded",
				Form: map[string][]string{"grant_type": {"password"}, "id": {"42", "2"}, "q": {"a&b=c d"}}},
		},
		"multipart form": {
			req: &lookoutv1.HttpRequest{Method: "POST",
				Headers: []*lookoutv1.Header{{Name: "Content-Type", Value: "multipart/form-data"}}, // no boundary: replaced
				Multipart: []*lookoutv1.FormField{
					{Name: "note", Value: "id {{id}}"},
					{Name: "report", Value: "a,b\n1,2\n", Filename: "report.csv", ContentType: "text/csv"},
					{Name: "blob", Value: "\x00\x01", Filename: `we"ird.bin`},
				}},
			want: received{ContentType: "multipart/form-data", Parts: []string{
				"note|||id 42", "report|report.csv|text/csv|a,b\n1,2\n", "blob|we\"ird.bin|application/octet-stream|\x00\x01",
			}},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			url, got := echoServer(t)
			tt.req.Url = url
			m := monitor(&lookoutv1.Step{Name: "s", Request: tt.req, Assert: []*lookoutv1.Assertion{statusIs("200")}})
			m.Variables = map[string]string{"id": "42"}
			res := runMonitor(t, New(Options{}), m, nil)
			if !res.GetSteps()[0].GetPassed() {
				t.Fatalf("step failed: %s", res.GetSteps()[0].GetError())
			}
			rec := <-got
			if mt, _, _ := mime.ParseMediaType(rec.ContentType); mt == "multipart/form-data" {
				rec.ContentType = mt
			}
			if diff := cmp.Diff(rec, tt.want); diff != "" {
				t.Errorf("server received (-got +want):\n%s", diff)
			}
		})
	}
}

func TestUndefinedVariableInBody(t *testing.T) {
	t.Parallel()
	for name, req := range map[string]*lookoutv1.HttpRequest{
		"form":      {Form: []*lookoutv1.FormField{{Name: "a", Value: "{{nope}}"}}},
		"multipart": {Multipart: []*lookoutv1.FormField{{Name: "{{nope}}", Value: "x"}}},
		"header":    {Headers: []*lookoutv1.Header{{Name: "X-A", Value: "{{nope}}"}}},
		"TLS name":  {Tls: &lookoutv1.TlsOptions{ServerName: "{{nope}}"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			req.Url, req.Method = "http://127.0.0.1:1/", "POST"
			res := runMonitor(t, New(Options{}), monitor(&lookoutv1.Step{Name: "s", Request: req}), nil)
			want := []stepBrief{{Name: "s", Attempts: 1, Class: lookoutv1.ErrorClass_ERROR_CLASS_VARIABLE, Error: `variable "nope" is not defined`}}
			if diff := cmp.Diff(briefs(res), want); diff != "" {
				t.Errorf("steps (-got +want):\n%s", diff)
			}
		})
	}
}
