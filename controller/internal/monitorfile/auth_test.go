package monitorfile

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// requestOptionsFile uses every request option added with the auth types:
// digest, NTLM and OAuth2 auth, form and multipart bodies, TLS options and
// the HTTP version, plus the status_text extraction.
const requestOptionsFile = `name: intranet
checkpoints: [private-1]
variables: {base: "https://intranet.example.com"}
steps:
  - name: token
    request:
      method: POST
      url: "{{base}}/api/orders"
      auth: {type: oauth2_client_credentials, credentials: orders-client, token_url: "{{base}}/oauth/token", scopes: [orders.read, orders.write]}
      form:
        - {name: grant, value: "{{grant}}"}
        - {name: q, value: a b}
      tls: {min_version: 1.2, max_version: "1.3", server_name: api.internal}
      http_version: 2
    extract:
      - {name: reason, from: status_text}
  - name: upload
    request:
      method: PUT
      url: "{{base}}/upload"
      auth: {type: ntlm, credentials: corp-user}
      http_version: "1.1"
      multipart:
        - {name: note, value: hello}
        - {name: report, value: "a,b", filename: report.csv, content_type: text/csv}
  - name: legacy
    request:
      url: "{{base}}/legacy"
      auth: {type: digest, credentials: legacy-user}
  - name: service account
    request:
      url: "{{base}}/svc"
      auth: {type: basic, username: "svc-{{env}}", password: "{{svc_pw}}"}
`

func requestOptionsMonitor() *pb.Monitor {
	return &pb.Monitor{
		Name: "intranet", Interval: dur(time.Minute), Timeout: dur(30 * time.Second),
		Checkpoints: []string{"private-1"},
		Variables:   map[string]string{"base": "https://intranet.example.com"},
		Steps: []*pb.Step{
			{
				Name: "token",
				Request: &pb.HttpRequest{
					Method: "POST", Url: "{{base}}/api/orders",
					Auth: &pb.Auth{Type: pb.AuthType_AUTH_TYPE_OAUTH2_CLIENT_CREDENTIALS, Credentials: "orders-client",
						TokenUrl: "{{base}}/oauth/token", Scopes: []string{"orders.read", "orders.write"}},
					Form: []*pb.FormField{{Name: "grant", Value: "{{grant}}"}, {Name: "q", Value: "a b"}},
					Tls: &pb.TlsOptions{MinVersion: pb.TlsVersion_TLS_VERSION_1_2, MaxVersion: pb.TlsVersion_TLS_VERSION_1_3,
						ServerName: "api.internal"},
					HttpVersion: pb.HttpVersion_HTTP_VERSION_2,
				},
				Extract: []*pb.Extraction{{Name: "reason", From: pb.ExtractFrom_EXTRACT_FROM_STATUS_TEXT}},
			},
			{
				Name: "upload",
				Request: &pb.HttpRequest{
					Method: "PUT", Url: "{{base}}/upload",
					Auth:        &pb.Auth{Type: pb.AuthType_AUTH_TYPE_NTLM, Credentials: "corp-user"},
					HttpVersion: pb.HttpVersion_HTTP_VERSION_1_1,
					Multipart: []*pb.FormField{{Name: "note", Value: "hello"},
						{Name: "report", Value: "a,b", Filename: "report.csv", ContentType: "text/csv"}},
				},
			},
			{
				Name: "legacy",
				Request: &pb.HttpRequest{Method: "GET", Url: "{{base}}/legacy",
					Auth: &pb.Auth{Type: pb.AuthType_AUTH_TYPE_DIGEST, Credentials: "legacy-user"}},
			},
			{
				Name: "service account",
				Request: &pb.HttpRequest{Method: "GET", Url: "{{base}}/svc",
					Auth: &pb.Auth{Type: pb.AuthType_AUTH_TYPE_BASIC, Username: "svc-{{env}}", Password: "{{svc_pw}}"}},
			},
		},
	}
}

func TestParseRequestOptions(t *testing.T) {
	t.Parallel()
	got, err := Parse([]byte(requestOptionsFile))
	if err != nil {
		t.Fatalf("Parse() error:\n%v", err)
	}
	if diff := cmp.Diff(got, requestOptionsMonitor(), protocmp.Transform()); diff != "" {
		t.Errorf("Parse() (-got +want):\n%s", diff)
	}
	checkRoundTrip(t, requestOptionsMonitor())
}

func TestParseRequestOptionErrors(t *testing.T) {
	t.Parallel()
	const head = "name: x\ncheckpoints: [a]\nsteps:\n  - request:\n      url: https://example.com/\n"
	tests := map[string]struct {
		lines string
		want  []string
	}{
		"unknown auth type": {"      auth: {type: kerberos, credentials: c}\n", []string{
			`steps[0].request.auth.type: "kerberos" is not one of none, basic, bearer, digest, ntlm, oauth2_client_credentials (line 6)`}},
		"oauth2 without token URL": {"      auth: {type: oauth2_client_credentials, credentials: c}\n", []string{
			"steps[0].request.auth.token_url: required for type oauth2_client_credentials (the token endpoint's URL) (line 6)"}},
		"digest without credentials": {"      auth: {type: digest}\n", []string{
			"steps[0].request.auth.credentials: required for type digest (the name of a vault credential set), unless username and password are given (line 6)"}},
		"literal password": {"      auth: {type: basic, username: svc, password: hunter2}\n", []string{
			"steps[0].request.auth.password: must be a single {{variable}} (from secret_variables, or extracted by an earlier step), not the password itself: a monitor is not a safe place for a secret (line 6)"}},
		"scopes must be a list": {"      auth: {type: oauth2_client_credentials, credentials: c, token_url: \"https://t/\", scopes: a b}\n", []string{
			"steps[0].request.auth.scopes: must be a list, not a single value (line 6)"}},
		"TLS version": {"      tls: {min_version: 1.4, bogus: 1}\n", []string{
			`steps[0].request.tls.min_version: "1.4" is not one of 1.0, 1.1, 1.2, 1.3 (line 6)`,
			"steps[0].request.tls.bogus: unknown field (line 6)"}},
		"TLS min above max": {"      tls: {min_version: 1.3, max_version: 1.2}\n", []string{
			"steps[0].request.tls.min_version: must not be above max_version (1.3 > 1.2) (line 6)"}},
		"HTTP version": {"      http_version: 3\n", []string{`steps[0].request.http_version: "3" is not one of 1.1, 2 (line 6)`}},
		"body and form": {"      body: x\n      form: [{name: a, value: b}]\n", []string{
			"steps[0].request: body, form and multipart are alternatives: set at most one (line 4)"}},
		"form field": {"      form:\n        - {value: b, filename: f.txt, size: 3}\n", []string{
			"steps[0].request.form[0].size: unknown field (line 7)"}},
		"form field without name": {"      form:\n        - {value: b, filename: f.txt}\n", []string{
			"steps[0].request.form[0].name: required (line 7)",
			"steps[0].request.form[0].filename: only used in multipart bodies (line 7)"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m, err := Parse([]byte(head + tc.lines))
			var fe pb.FieldErrors
			if !errors.As(err, &fe) {
				t.Fatalf("Parse() = %v, %v; want FieldErrors", m, err)
			}
			if diff := cmp.Diff(strings.Split(err.Error(), "\n"), tc.want); diff != "" {
				t.Errorf("Parse() errors (-got +want):\n%s", diff)
			}
		})
	}
}
