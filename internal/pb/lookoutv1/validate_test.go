package lookoutv1

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/durationpb"
)

func dur(d time.Duration) *durationpb.Duration { return durationpb.New(d) }

// validMonitor is a monitor that passes Validate; cases break one thing.
func validMonitor() *Monitor {
	return &Monitor{
		Name:        "partner-orders",
		Interval:    dur(time.Minute),
		Timeout:     dur(30 * time.Second),
		Checkpoints: []string{"public-1", "private-1"},
		Variables:   map[string]string{"base": "https://127.0.0.1:8443"},
		Steps: []*Step{
			{
				Name: "token",
				Request: &HttpRequest{
					Method:            "POST",
					Url:               "{{base}}/token",
					Headers:           []*Header{{Name: "Content-Type", Value: "application/json"}},
					Auth:              &Auth{Type: AuthType_AUTH_TYPE_BASIC, Credentials: "api-user"},
					ClientCertificate: &ClientCertificate{Source: CertificateSource_CERTIFICATE_SOURCE_VAULT, Item: "partner-cert"},
				},
				Extract: []*Extraction{{Name: "token", From: ExtractFrom_EXTRACT_FROM_JSON, Path: "$.access_token"}},
				Assert:  []*Assertion{{Source: AssertSource_ASSERT_SOURCE_STATUS, Comparison: Comparison_COMPARISON_EQUAL, Value: "200"}},
			},
			{Wait: dur(2 * time.Second)},
			{
				Name:    "orders",
				Timeout: dur(10 * time.Second),
				Retry:   &Retry{MaxAttempts: 3, Wait: dur(500 * time.Millisecond)},
				Request: &HttpRequest{Url: "https://api.example.com/orders?q={{q}}"},
				Assert: []*Assertion{
					{Source: AssertSource_ASSERT_SOURCE_JSON, Path: "$.items[0].id", Comparison: Comparison_COMPARISON_EXISTS},
					{Source: AssertSource_ASSERT_SOURCE_DURATION, Comparison: Comparison_COMPARISON_LESS_THAN, Value: "{{limit}}"},
				},
			},
		},
	}
}

func TestValidateAcceptsValidMonitor(t *testing.T) {
	t.Parallel()
	if err := validMonitor().Validate(); err != nil {
		t.Fatalf("Validate() = %v, want nil", err)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		change func(m *Monitor)
		want   []string
	}{
		"name missing":  {func(m *Monitor) { m.Name = "" }, []string{"name: required"}},
		"name too long": {func(m *Monitor) { m.Name = strings.Repeat("a", 65) }, []string{"name: must be at most 64 characters"}},
		"name charset": {func(m *Monitor) { m.Name = "-orders" }, []string{
			"name: must start with a letter or digit and contain only letters, digits, '.', '_' and '-'"}},
		"interval missing":   {func(m *Monitor) { m.Interval = nil }, []string{"interval: required"}},
		"interval too short": {func(m *Monitor) { m.Interval = dur(5 * time.Second) }, []string{"interval: must be at least 10s (got 5s)"}},
		"interval too long":  {func(m *Monitor) { m.Interval = dur(25 * time.Hour) }, []string{"interval: must be at most 24h (got 25h)"}},
		"interval malformed": {func(m *Monitor) { m.Interval = &durationpb.Duration{Seconds: 1, Nanos: -1} }, []string{"interval: not a valid duration"}},
		"timeout missing":    {func(m *Monitor) { m.Timeout = nil }, []string{"timeout: required"}},
		"timeout zero":       {func(m *Monitor) { m.Timeout = dur(0) }, []string{"timeout: must be greater than 0"}},
		"timeout over interval": {func(m *Monitor) { m.Interval = dur(20 * time.Second); m.Timeout = dur(30 * time.Second) },
			[]string{"timeout: must not exceed the interval (20s)"}},
		"timeout over 10m": {func(m *Monitor) { m.Interval = dur(time.Hour); m.Timeout = dur(11 * time.Minute) },
			[]string{"timeout: must be at most 10m (got 11m)"}},
		"no checkpoints": {func(m *Monitor) { m.Checkpoints = nil }, []string{"checkpoints: at least one checkpoint is required"}},
		"duplicate and empty checkpoint": {func(m *Monitor) { m.Checkpoints = []string{"a", "", "a"} },
			[]string{"checkpoints[1]: must not be empty", `checkpoints[2]: duplicate checkpoint "a"`}},
		"bad variable name": {func(m *Monitor) { m.Variables = map[string]string{"1x": "", "ok": ""} }, []string{
			`variables.1x: "1x" is not a valid variable name: start with a letter or '_', then use letters, digits, '_', '.' or '-'`}},
		"no steps": {func(m *Monitor) { m.Steps = nil }, []string{"steps: at least one step is required"}},
		"too many steps": {func(m *Monitor) {
			for len(m.Steps) <= MaxSteps {
				m.Steps = append(m.Steps, &Step{Wait: dur(time.Second)})
			}
		}, []string{"steps: at most 100 steps are allowed (got 101)"}},
		"empty step":       {func(m *Monitor) { m.Steps[1] = &Step{} }, []string{"steps[1]: a step needs either request or wait"}},
		"nil step":         {func(m *Monitor) { m.Steps[1] = nil }, []string{"steps[1]: a step needs either request or wait"}},
		"request and wait": {func(m *Monitor) { m.Steps[0].Wait = dur(time.Second) }, []string{"steps[0]: a step has either request or wait, not both"}},
		"wait zero":        {func(m *Monitor) { m.Steps[1].Wait = dur(0) }, []string{"steps[1].wait: must be greater than 0"}},
		"wait too long":    {func(m *Monitor) { m.Steps[1].Wait = dur(11 * time.Minute) }, []string{"steps[1].wait: must be at most 10m (got 11m)"}},
		"wait with extract and assert": {func(m *Monitor) {
			m.Steps[1].Extract = m.Steps[0].Extract
			m.Steps[1].Assert = m.Steps[0].Assert
		}, []string{
			"steps[1].extract: a wait step has no response to extract from",
			"steps[1].assert: a wait step has no response to assert on"}},
		"step name too long": {func(m *Monitor) { m.Steps[0].Name = strings.Repeat("s", 65) }, []string{"steps[0].name: must be at most 64 characters"}},
		"url missing":        {func(m *Monitor) { m.Steps[0].Request.Url = "" }, []string{"steps[0].request.url: required"}},
		"url scheme":         {func(m *Monitor) { m.Steps[0].Request.Url = "ftp://x/{{a}}" }, []string{"steps[0].request.url: must start with http://, https:// or a {{variable}}"}},
		"url relative":       {func(m *Monitor) { m.Steps[0].Request.Url = "/orders" }, []string{"steps[0].request.url: must start with http://, https:// or a {{variable}}"}},
		"url no host":        {func(m *Monitor) { m.Steps[0].Request.Url = "https:///x" }, []string{"steps[0].request.url: has no host"}},
		"url unparsable":     {func(m *Monitor) { m.Steps[0].Request.Url = "https://a b/" }, []string{`steps[0].request.url: not a valid URL: invalid character " " in host name`}},
		"url open placeholder": {func(m *Monitor) { m.Steps[0].Request.Url = "https://x/{{a" },
			[]string{"steps[0].request.url: has a {{ without a closing }}"}},
		"url placeholders in host and port": {func(m *Monitor) { m.Steps[0].Request.Url = "https://{{host}}:{{port}}/x" }, nil},
		"method":                            {func(m *Monitor) { m.Steps[0].Request.Method = "FETCH" }, []string{`steps[0].request.method: "FETCH" is not one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS`}},
		"header name": {func(m *Monitor) { m.Steps[0].Request.Headers[0].Name = "Bad Name" },
			[]string{`steps[0].request.headers.Bad Name: "Bad Name" is not a valid header name`}},
		"header empty name": {func(m *Monitor) { m.Steps[0].Request.Headers[0].Name = "" }, []string{"steps[0].request.headers[0]: header name is empty"}},
		"header value newline": {func(m *Monitor) { m.Steps[0].Request.Headers[0].Value = "a\r\nX: y" },
			[]string{"steps[0].request.headers.Content-Type: must not contain line breaks or NUL"}},
		"basic without credentials": {func(m *Monitor) { m.Steps[0].Request.Auth.Credentials = "" },
			[]string{"steps[0].request.auth.credentials: required for type basic (the name of a vault credential set), unless username and password are given"}},
		"bearer without token": {func(m *Monitor) { m.Steps[0].Request.Auth = &Auth{Type: AuthType_AUTH_TYPE_BEARER} },
			[]string{"steps[0].request.auth.token: required for type bearer"}},
		"token with basic": {func(m *Monitor) { m.Steps[0].Request.Auth.Token = "t" }, []string{"steps[0].request.auth.token: only used with type bearer"}},
		"unknown auth type": {func(m *Monitor) { m.Steps[0].Request.Auth.Type = 9 }, []string{
			"steps[0].request.auth.type: unknown value 9",
			"steps[0].request.auth.credentials: only used with types basic, digest, ntlm and oauth2_client_credentials"}},
		"digest without credentials": {func(m *Monitor) { m.Steps[0].Request.Auth = &Auth{Type: AuthType_AUTH_TYPE_DIGEST} },
			[]string{"steps[0].request.auth.credentials: required for type digest (the name of a vault credential set), unless username and password are given"}},
		"basic from variables": {func(m *Monitor) {
			m.Steps[0].Request.Auth = &Auth{Type: AuthType_AUTH_TYPE_BASIC, Username: "svc-{{env}}", Password: "{{ pw }}"}
		}, nil},
		"literal password": {func(m *Monitor) {
			m.Steps[0].Request.Auth = &Auth{Type: AuthType_AUTH_TYPE_DIGEST, Username: "u", Password: "hunter2"}
		},
			[]string{"steps[0].request.auth.password: must be a single {{variable}} (from secret_variables, or extracted by an earlier step), not the password itself: a monitor is not a safe place for a secret"}},
		"password with text around the variable": {func(m *Monitor) {
			m.Steps[0].Request.Auth = &Auth{Type: AuthType_AUTH_TYPE_BASIC, Username: "u", Password: "x{{pw}}"}
		},
			[]string{"steps[0].request.auth.password: must be a single {{variable}} (from secret_variables, or extracted by an earlier step), not the password itself: a monitor is not a safe place for a secret"}},
		"password from an automatic value": {func(m *Monitor) {
			m.Steps[0].Request.Auth = &Auth{Type: AuthType_AUTH_TYPE_BASIC, Username: "u", Password: "{{@RandomGuid}}"}
		},
			[]string{"steps[0].request.auth.password: must be a single {{variable}} (from secret_variables, or extracted by an earlier step), not the password itself: a monitor is not a safe place for a secret"}},
		"username without password": {func(m *Monitor) { m.Steps[0].Request.Auth = &Auth{Type: AuthType_AUTH_TYPE_BASIC, Username: "u"} },
			[]string{"steps[0].request.auth.password: required with username"}},
		"credential set and password": {func(m *Monitor) { m.Steps[0].Request.Auth.Username, m.Steps[0].Request.Auth.Password = "u", "{{pw}}" },
			[]string{"steps[0].request.auth.credentials: give either a credential set or username and password, not both"}},
		"password with bearer": {func(m *Monitor) {
			m.Steps[0].Request.Auth = &Auth{Type: AuthType_AUTH_TYPE_BEARER, Token: "{{t}}", Username: "u", Password: "{{pw}}"}
		}, []string{"steps[0].request.auth.username: username and password are only used with types basic, digest, ntlm and oauth2_client_credentials"}},
		"ntlm": {func(m *Monitor) { m.Steps[0].Request.Auth.Type = AuthType_AUTH_TYPE_NTLM }, nil},
		"ntlm over HTTP/2": {func(m *Monitor) {
			m.Steps[0].Request.Auth.Type = AuthType_AUTH_TYPE_NTLM
			m.Steps[0].Request.HttpVersion = HttpVersion_HTTP_VERSION_2
		}, []string{"steps[0].request.http_version: NTLM authentication needs HTTP/1.1: use 1.1 or leave http_version unset"}},
		"oauth2": {func(m *Monitor) {
			m.Steps[0].Request.Auth = &Auth{Type: AuthType_AUTH_TYPE_OAUTH2_CLIENT_CREDENTIALS, Credentials: "client",
				TokenUrl: "{{base}}/oauth/token", Scopes: []string{"orders.read", "api://x/.default"}}
		}, nil},
		"oauth2 without token URL and credentials": {func(m *Monitor) {
			m.Steps[2].Request.Auth = &Auth{Type: AuthType_AUTH_TYPE_OAUTH2_CLIENT_CREDENTIALS, Scopes: []string{"a b", ""}}
		}, []string{
			"steps[2].request.auth.credentials: required for type oauth2_client_credentials (the name of a vault credential set), unless username and password are given",
			"steps[2].request.auth.token_url: required for type oauth2_client_credentials (the token endpoint's URL)",
			`steps[2].request.auth.scopes[0]: "a b" is not a valid scope: it must be one non-empty word without spaces, quotes or backslashes`,
			`steps[2].request.auth.scopes[1]: "" is not a valid scope: it must be one non-empty word without spaces, quotes or backslashes`,
		}},
		"oauth2 bad token URL": {func(m *Monitor) {
			m.Steps[0].Request.Auth = &Auth{Type: AuthType_AUTH_TYPE_OAUTH2_CLIENT_CREDENTIALS, Credentials: "c", TokenUrl: "/token"}
		}, []string{"steps[0].request.auth.token_url: must start with http://, https:// or a {{variable}}"}},
		"token URL and scopes without oauth2": {func(m *Monitor) {
			m.Steps[0].Request.Auth.TokenUrl, m.Steps[0].Request.Auth.Scopes = "https://x/t", []string{"s"}
		}, []string{"steps[0].request.auth.token_url: only used with type oauth2_client_credentials",
			"steps[0].request.auth.scopes: only used with type oauth2_client_credentials"}},
		"body and form": {func(m *Monitor) {
			m.Steps[0].Request.Body = "x"
			m.Steps[0].Request.Form = []*FormField{{Name: "a"}}
		}, []string{"steps[0].request: body, form and multipart are alternatives: set at most one"}},
		"form fields": {func(m *Monitor) {
			m.Steps[0].Request.Form = []*FormField{{Value: "v", Filename: "f.txt", ContentType: "text/plain"}}
		}, []string{"steps[0].request.form[0].name: required", "steps[0].request.form[0].filename: only used in multipart bodies",
			"steps[0].request.form[0].content_type: only used in multipart bodies"}},
		"multipart fields": {func(m *Monitor) {
			m.Steps[0].Request.Multipart = []*FormField{{Name: "a", Value: "{{x}}"}, {Name: "f", Filename: "f.csv", ContentType: "text/csv\r\nX: y"}}
		}, []string{"steps[0].request.multipart[1].content_type: must not contain line breaks or NUL"}},
		"TLS options": {func(m *Monitor) {
			m.Steps[0].Request.Tls = &TlsOptions{MinVersion: TlsVersion_TLS_VERSION_1_2, MaxVersion: TlsVersion_TLS_VERSION_1_3, ServerName: "api.{{env}}.example.com"}
			m.Steps[0].Request.HttpVersion = HttpVersion_HTTP_VERSION_1_1
		}, nil},
		"TLS min above max": {func(m *Monitor) {
			m.Steps[0].Request.Tls = &TlsOptions{MinVersion: TlsVersion_TLS_VERSION_1_3, MaxVersion: TlsVersion_TLS_VERSION_1_2}
		}, []string{"steps[0].request.tls.min_version: must not be above max_version (1.3 > 1.2)"}},
		"TLS bad values": {func(m *Monitor) {
			m.Steps[0].Request.Tls = &TlsOptions{MaxVersion: 7, ServerName: "https://api.example.com"}
			m.Steps[0].Request.HttpVersion = 5
		}, []string{"steps[0].request.tls.max_version: unknown value 7",
			`steps[0].request.tls.server_name: "https://api.example.com" is not a host name: give the bare name, such as api.example.com`,
			"steps[0].request.http_version: unknown value 5"}},
		"vault without item": {func(m *Monitor) { m.Steps[0].Request.ClientCertificate.Item = "" },
			[]string{"steps[0].request.client_certificate.item: required for source vault (the name of a vault certificate)"}},
		"platform with item": {func(m *Monitor) {
			m.Steps[0].Request.ClientCertificate.Source = CertificateSource_CERTIFICATE_SOURCE_PLATFORM
		}, []string{"steps[0].request.client_certificate.item: not allowed with source platform; only vault certificates name an item"}},
		"none with item": {func(m *Monitor) {
			m.Steps[0].Request.ClientCertificate.Source = CertificateSource_CERTIFICATE_SOURCE_NONE
		}, []string{"steps[0].request.client_certificate.item: not allowed with source none; only vault certificates name an item"}},
		"platform": {func(m *Monitor) {
			m.Steps[0].Request.ClientCertificate = &ClientCertificate{Source: CertificateSource_CERTIFICATE_SOURCE_PLATFORM}
		}, nil},
		"extraction without name and from": {func(m *Monitor) { m.Steps[0].Extract[0] = &Extraction{} },
			[]string{"steps[0].extract[0].name: required", "steps[0].extract[0].from: required"}},
		"extraction bad name": {func(m *Monitor) { m.Steps[0].Extract[0].Name = "a b" }, []string{
			`steps[0].extract[0].name: "a b" is not a valid variable name: start with a letter or '_', then use letters, digits, '_', '.' or '-'`}},
		"extraction needs path": {func(m *Monitor) {
			m.Steps[0].Extract[0].From = ExtractFrom_EXTRACT_FROM_HEADER
			m.Steps[0].Extract[0].Path = ""
		},
			[]string{"steps[0].extract[0].path: required for from header"}},
		"status extraction has no path": {func(m *Monitor) { m.Steps[0].Extract[0].From = ExtractFrom_EXTRACT_FROM_STATUS },
			[]string{"steps[0].extract[0].path: not used with from status"}},
		"extraction bad regex": {func(m *Monitor) {
			m.Steps[0].Extract[0] = &Extraction{Name: "x", From: ExtractFrom_EXTRACT_FROM_REGEX, Path: "id=(\\d+"}
		},
			[]string{"steps[0].extract[0].path: not a valid regular expression: missing closing ): `id=(\\d+`"}},
		"assertion empty": {func(m *Monitor) { m.Steps[0].Assert[0] = &Assertion{} },
			[]string{"steps[0].assert[0].source: required", "steps[0].assert[0].comparison: required"}},
		"assertion needs path": {func(m *Monitor) { m.Steps[2].Assert[0].Path = "" }, []string{"steps[2].assert[0].path: required for source json"}},
		"status assertion has no path": {func(m *Monitor) { m.Steps[0].Assert[0].Path = "$.x" },
			[]string{"steps[0].assert[0].path: not used with source status"}},
		"value required": {func(m *Monitor) { m.Steps[0].Assert[0].Value = "" }, []string{"steps[0].assert[0].value: required for comparison equal"}},
		"value not used": {func(m *Monitor) { m.Steps[2].Assert[0].Value = "x" }, []string{"steps[2].assert[0].value: not used with comparison exists"}},
		"numeric comparison literal": {func(m *Monitor) { m.Steps[2].Assert[1].Value = "fast" },
			[]string{`steps[2].assert[1].value: "fast" is not a number (comparison less_than)`}},
		"numeric comparison decimal": {func(m *Monitor) { m.Steps[2].Assert[1].Value = "12.5" }, nil},
		"matches bad regex": {func(m *Monitor) {
			m.Steps[0].Assert[0] = &Assertion{Source: AssertSource_ASSERT_SOURCE_BODY, Comparison: Comparison_COMPARISON_MATCHES, Value: "[a-"}
		}, []string{"steps[0].assert[0].value: not a valid regular expression: missing closing ]: `[a-`"}},
		"matches with placeholder": {func(m *Monitor) {
			m.Steps[0].Assert[0] = &Assertion{Source: AssertSource_ASSERT_SOURCE_BODY, Comparison: Comparison_COMPARISON_MATCHES, Value: "[{{x}}"}
		}, nil},
		"unknown comparison": {func(m *Monitor) { m.Steps[0].Assert[0].Comparison = 42 }, []string{"steps[0].assert[0].comparison: unknown value 42"}},
		"retry attempts":     {func(m *Monitor) { m.Steps[2].Retry.MaxAttempts = 11 }, []string{"steps[2].retry.max_attempts: must be between 1 and 10 (got 11)"}},
		"retry zero":         {func(m *Monitor) { m.Steps[2].Retry.MaxAttempts = 0 }, []string{"steps[2].retry.max_attempts: must be between 1 and 10 (got 0)"}},
		"retry wait":         {func(m *Monitor) { m.Steps[2].Retry.Wait = dur(-time.Second) }, []string{"steps[2].retry.wait: must not be negative"}},
		"step timeout over run timeout": {func(m *Monitor) { m.Steps[2].Timeout = dur(time.Minute) },
			[]string{"steps[2].timeout: must not exceed the monitor timeout (30s)"}},
		"step timeout zero means the rest of the run": {func(m *Monitor) { m.Steps[2].Timeout = dur(0) }, nil},
		"several problems": {func(m *Monitor) {
			m.Name = ""
			m.Checkpoints = nil
			m.Steps[0].Request.Url = ""
		}, []string{"name: required", "checkpoints: at least one checkpoint is required", "steps[0].request.url: required"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := validMonitor()
			tc.change(m)
			if diff := cmp.Diff(errorLines(m.Validate()), tc.want); diff != "" {
				t.Errorf("Validate() errors (-got +want):\n%s", diff)
			}
		})
	}
}

func errorLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

func TestValidateNilMonitor(t *testing.T) {
	t.Parallel()
	var m *Monitor
	if diff := cmp.Diff(errorLines(m.Validate()), []string{"monitor is missing"}); diff != "" {
		t.Errorf("errors (-got +want):\n%s", diff)
	}
}

func TestValidateReturnsFieldErrors(t *testing.T) {
	t.Parallel()
	m := validMonitor()
	m.Name = ""
	var fe FieldErrors
	if !errors.As(m.Validate(), &fe) {
		t.Fatalf("Validate() error is not FieldErrors")
	}
	if diff := cmp.Diff(fe, FieldErrors{{Path: "name", Msg: "required"}}); diff != "" {
		t.Errorf("FieldErrors (-got +want):\n%s", diff)
	}
}

func TestFieldErrorsError(t *testing.T) {
	t.Parallel()
	errs := FieldErrors{{Path: "steps[0].request.url", Msg: "required"}, {Msg: "monitor file is empty"}}
	want := "steps[0].request.url: required\nmonitor file is empty"
	if got := errs.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestRetryHelpers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		retry    *Retry
		attempts int
		delay    time.Duration
	}{
		{nil, 1, 0},
		{&Retry{}, 1, 0},
		{&Retry{MaxAttempts: 3, Wait: dur(500 * time.Millisecond)}, 3, 500 * time.Millisecond},
	}
	for i, tc := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			if got := tc.retry.Attempts(); got != tc.attempts {
				t.Errorf("Attempts() = %d, want %d", got, tc.attempts)
			}
			if got := tc.retry.Delay(); got != tc.delay {
				t.Errorf("Delay() = %v, want %v", got, tc.delay)
			}
		})
	}
}
