package monitorfile

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

func dur(d time.Duration) *durationpb.Duration { return durationpb.New(d) }

// designExample is the monitor file shown in DESIGN.md §3.
const designExample = `name: partner-orders
interval: 1m
timeout: 30s
checkpoints: [public-1, private-1]        # checkpoint names
variables: {base: "https://127.0.0.1:8443"}
steps:
  - name: token
    request:
      method: POST
      url: "{{base}}/token"
      headers: {Content-Type: application/json}
      body: '{"client":"lookout"}'
      auth: {type: basic, credentials: api-user}          # a vault credential set, by name
      client_certificate: {source: vault, item: partner-cert}   # or {source: platform}; omitted = none
      ignore_certificate_errors: false
    extract:
      - {name: token, from: json, path: "$.access_token"}
    assert:
      - {source: status, comparison: equal, value: "200"}
  - wait: 2s
  - name: orders
    timeout: 10s                                          # per step
    retry: {max_attempts: 3, wait: 500ms}
    request:
      url: "{{base}}/orders"                              # method defaults to GET
      headers: {Authorization: "Bearer {{token}}"}
    extract:                                              # from: json | xpath | regex | header | cookie | status | duration
      - {name: session, from: cookie, path: session}
    assert:   # source: status | body | json | xpath | header | cookie | duration | size | cert_days_left
              # comparison: equal | not_equal | contains | not_contains | less_than | less_or_equal |
              #   greater_than | greater_or_equal | is_empty | not_empty | exists | not_exists | matches
      - {source: json, path: "$.items[0].id", comparison: exists}
      - {source: duration, comparison: less_than, value: "800"}
`

func designMonitor() *pb.Monitor {
	return &pb.Monitor{
		Name:        "partner-orders",
		Interval:    dur(time.Minute),
		Timeout:     dur(30 * time.Second),
		Checkpoints: []string{"public-1", "private-1"},
		Variables:   map[string]string{"base": "https://127.0.0.1:8443"},
		Steps: []*pb.Step{
			{
				Name: "token",
				Request: &pb.HttpRequest{
					Method:            "POST",
					Url:               "{{base}}/token",
					Headers:           []*pb.Header{{Name: "Content-Type", Value: "application/json"}},
					Body:              `{"client":"lookout"}`,
					Auth:              &pb.Auth{Type: pb.AuthType_AUTH_TYPE_BASIC, Credentials: "api-user"},
					ClientCertificate: &pb.ClientCertificate{Source: pb.CertificateSource_CERTIFICATE_SOURCE_VAULT, Item: "partner-cert"},
				},
				Extract: []*pb.Extraction{{Name: "token", From: pb.ExtractFrom_EXTRACT_FROM_JSON, Path: "$.access_token"}},
				Assert:  []*pb.Assertion{{Source: pb.AssertSource_ASSERT_SOURCE_STATUS, Comparison: pb.Comparison_COMPARISON_EQUAL, Value: "200"}},
			},
			{Wait: dur(2 * time.Second)},
			{
				Name:    "orders",
				Timeout: dur(10 * time.Second),
				Retry:   &pb.Retry{MaxAttempts: 3, Wait: dur(500 * time.Millisecond)},
				Request: &pb.HttpRequest{
					Method:  "GET",
					Url:     "{{base}}/orders",
					Headers: []*pb.Header{{Name: "Authorization", Value: "Bearer {{token}}"}},
				},
				Extract: []*pb.Extraction{{Name: "session", From: pb.ExtractFrom_EXTRACT_FROM_COOKIE, Path: "session"}},
				Assert: []*pb.Assertion{
					{Source: pb.AssertSource_ASSERT_SOURCE_JSON, Path: "$.items[0].id", Comparison: pb.Comparison_COMPARISON_EXISTS},
					{Source: pb.AssertSource_ASSERT_SOURCE_DURATION, Comparison: pb.Comparison_COMPARISON_LESS_THAN, Value: "800"},
				},
			},
		},
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		file string
		want *pb.Monitor
	}{
		"design example": {designExample, designMonitor()},
		"defaults": {`name: health
checkpoints: [public-1]
steps:
  - request: {url: "https://example.com/health"}
`, &pb.Monitor{
			Name:        "health",
			Interval:    dur(time.Minute),
			Timeout:     dur(30 * time.Second),
			Checkpoints: []string{"public-1"},
			Steps:       []*pb.Step{{Request: &pb.HttpRequest{Method: "GET", Url: "https://example.com/health"}}},
		}},
		"short interval shortens the default timeout": {`name: fast
interval: 15s
checkpoints: [public-1]
steps:
  - request: {url: "https://example.com/"}
`, &pb.Monitor{
			Name:        "fast",
			Interval:    dur(15 * time.Second),
			Timeout:     dur(15 * time.Second),
			Checkpoints: []string{"public-1"},
			Steps:       []*pb.Step{{Request: &pb.HttpRequest{Method: "GET", Url: "https://example.com/"}}},
		}},
		"scalars are read as written": {`name: scalars
checkpoints: [public-1]
steps:
  - request:
      method: post
      url: https://example.com/
      headers: {X-B: 2, X-A: true, Accept: "*/*"}
      body: 0x10
    assert:
      - {source: STATUS, comparison: less_than, value: 300}
      - {source: size, comparison: greater_than, value: 1.5e3}
`, &pb.Monitor{
			Name:        "scalars",
			Interval:    dur(time.Minute),
			Timeout:     dur(30 * time.Second),
			Checkpoints: []string{"public-1"},
			Steps: []*pb.Step{{
				Request: &pb.HttpRequest{
					Method: "POST",
					Url:    "https://example.com/",
					Headers: []*pb.Header{
						{Name: "Accept", Value: "*/*"}, {Name: "X-A", Value: "true"}, {Name: "X-B", Value: "2"},
					},
					Body: "0x10",
				},
				Assert: []*pb.Assertion{
					{Source: pb.AssertSource_ASSERT_SOURCE_STATUS, Comparison: pb.Comparison_COMPARISON_LESS_THAN, Value: "300"},
					{Source: pb.AssertSource_ASSERT_SOURCE_SIZE, Comparison: pb.Comparison_COMPARISON_GREATER_THAN, Value: "1.5e3"},
				},
			}},
		}},
		"aliases and nulls": {`name: aliases
interval: ~
variables:
checkpoints: [public-1]
steps:
  - request:
      url: https://example.com/a
      headers: &h {Accept: application/json}
      auth: {type: bearer, token: "{{t}}"}
  - request:
      url: https://example.com/b
      headers: *h
      client_certificate: {source: platform}
`, &pb.Monitor{
			Name:        "aliases",
			Interval:    dur(time.Minute),
			Timeout:     dur(30 * time.Second),
			Checkpoints: []string{"public-1"},
			Steps: []*pb.Step{
				{Request: &pb.HttpRequest{
					Method:  "GET",
					Url:     "https://example.com/a",
					Headers: []*pb.Header{{Name: "Accept", Value: "application/json"}},
					Auth:    &pb.Auth{Type: pb.AuthType_AUTH_TYPE_BEARER, Token: "{{t}}"},
				}},
				{Request: &pb.HttpRequest{
					Method:            "GET",
					Url:               "https://example.com/b",
					Headers:           []*pb.Header{{Name: "Accept", Value: "application/json"}},
					ClientCertificate: &pb.ClientCertificate{Source: pb.CertificateSource_CERTIFICATE_SOURCE_PLATFORM},
				}},
			},
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse([]byte(tc.file))
			if err != nil {
				t.Fatalf("Parse() error:\n%v", err)
			}
			if diff := cmp.Diff(got, tc.want, protocmp.Transform()); diff != "" {
				t.Errorf("Parse() (-got +want):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		file string
		want []string
	}{
		"unknown top-level field": {`name: x
timeot: 30s
checkpoints: [public-1]
steps: [{wait: 1s}]
`, []string{`timeot: unknown field (did you mean "timeout"?) (line 2)`}},
		"unknown field at depth": {`name: x
checkpoints: [public-1]
steps:
  - request:
      url: https://example.com/
  - request:
      url: https://example.com/
      bogus: 1
`, []string{"steps[1].request.bogus: unknown field (line 8)"}},
		"field given twice": {`name: x
name: y
checkpoints: [public-1]
steps: [{wait: 1s}]
`, []string{"name: field given twice (line 2)"}},
		"header given twice": {`name: x
checkpoints: [public-1]
steps:
  - request:
      url: https://example.com/
      headers:
        Accept: a
        Accept: b
`, []string{"steps[0].request.headers.Accept: key given twice (line 8)"}},
		"bad duration": {`name: x
checkpoints: [public-1]
interval: abc
steps: [{wait: 1s}]
`, []string{`interval: "abc" is not a duration (line 3)`}},
		"duration without unit": {`name: x
checkpoints: [public-1]
timeout: 30
steps: [{wait: 1s}]
`, []string{`timeout: "30" is not a duration; write 30s (line 3)`}},
		"bad enum": {`name: x
checkpoints: [public-1]
steps:
  - request:
      url: https://example.com/
      client_certificate: {source: vualt, item: c}
`, []string{`steps[0].request.client_certificate.source: "vualt" is not one of vault, platform, none (line 6)`}},
		"bad extraction source": {`name: x
checkpoints: [public-1]
steps:
  - request: {url: "https://example.com/"}
    extract:
      - {name: v, from: body}
`, []string{`steps[0].extract[0].from: "body" is not one of json, xpath, regex, header, cookie, status, status_text, duration (line 6)`}},
		"bad comparison": {`name: x
checkpoints: [public-1]
steps:
  - request: {url: "https://example.com/"}
    assert:
      - {source: status, comparison: "==", value: 200}
`, []string{`steps[0].assert[0].comparison: "==" is not one of equal, not_equal, contains, not_contains, ` +
			`less_than, less_or_equal, greater_than, greater_or_equal, is_empty, not_empty, exists, not_exists, matches (line 6)`}},
		"comparison with a typo": {`name: x
checkpoints: [public-1]
steps:
  - request: {url: "https://example.com/"}
    assert:
      - {source: status, comparison: equals, value: 200}
`, []string{`steps[0].assert[0].comparison: "equals" is not one of equal, not_equal, contains, not_contains, ` +
			`less_than, less_or_equal, greater_than, greater_or_equal, is_empty, not_empty, exists, not_exists, matches (did you mean "equal"?) (line 6)`}},
		"wrong kinds": {`name: x
checkpoints: public-1
steps:
  - request: https://example.com/
    retry: {max_attempts: three}
    assert: {source: status}
  - request:
      url: [a]
      ignore_certificate_errors: maybe
`, []string{
			"checkpoints: must be a list, not a single value (line 2)",
			"steps[0].request: must be a mapping, not a single value (line 4)",
			`steps[0].retry.max_attempts: "three" is not a whole number (line 5)`,
			"steps[0].assert: must be a list, not a mapping (line 6)",
			"steps[1].request.url: must be a single value, not a list (line 8)",
			`steps[1].request.ignore_certificate_errors: "maybe" is not true or false (line 9)`,
		}},
		"top level is a list": {"- name: x\n", []string{"must be a mapping, not a list (line 1)"}},
		"missing url": {`name: x
checkpoints: [public-1]
steps:
  - name: a
    request:
      method: GET
`, []string{"steps[0].request.url: required (line 5)"}},
		"request and wait": {`name: x
checkpoints: [public-1]
steps:
  - wait: 1s
    request: {url: "https://example.com/"}
`, []string{"steps[0]: a step has either request or wait, not both (line 4)"}},
		"neither request nor wait": {`name: x
checkpoints: [public-1]
steps:
  - name: nothing
`, []string{"steps[0]: a step needs either request or wait (line 4)"}},
		"platform with item": {`name: x
checkpoints: [public-1]
steps:
  - request:
      url: https://example.com/
      client_certificate: {source: platform, item: partner-cert}
`, []string{"steps[0].request.client_certificate.item: not allowed with source platform; only vault certificates name an item (line 6)"}},
		"vault without item": {`name: x
checkpoints: [public-1]
steps:
  - request:
      url: https://example.com/
      client_certificate: {source: vault}
`, []string{"steps[0].request.client_certificate.item: required for source vault (the name of a vault certificate) (line 6)"}},
		"bad method": {`name: x
checkpoints: [public-1]
steps:
  - request: {method: fetch, url: "https://example.com/"}
`, []string{`steps[0].request.method: "FETCH" is not one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS (line 4)`}},
		"validation problems with and without lines": {`name: bad name
interval: 5s
steps:
  - request: {url: "ftp://example.com/"}
    timeout: 20s
    assert:
      - {source: duration, comparison: less_than, value: fast}
      - {source: body, comparison: matches, value: "[a-"}
  - wait: 1s
    extract:
      - {name: x, from: status}
`, []string{
			"name: must start with a letter or digit and contain only letters, digits, '.', '_' and '-' (line 1)",
			"interval: must be at least 10s (got 5s) (line 2)",
			"checkpoints: at least one checkpoint is required",
			"steps[0].request.url: must start with http://, https:// or a {{variable}} (line 4)",
			`steps[0].assert[0].value: "fast" is not a number (comparison less_than) (line 7)`,
			"steps[0].assert[1].value: not a valid regular expression: missing closing ]: `[a-` (line 8)",
			"steps[1].extract: a wait step has no response to extract from (line 10)",
		}},
		"step timeout over run timeout": {`name: x
timeout: 10s
checkpoints: [public-1, public-1]
steps:
  - request: {url: "https://example.com/"}
    timeout: 20s
    retry: {max_attempts: 20}
`, []string{
			`checkpoints[1]: duplicate checkpoint "public-1" (line 3)`,
			"steps[0].timeout: must not exceed the monitor timeout (10s) (line 6)",
			"steps[0].retry.max_attempts: must be between 1 and 10 (got 20) (line 7)",
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m, err := Parse([]byte(tc.file))
			if err == nil {
				t.Fatalf("Parse() = %v, want an error", m)
			}
			var fe pb.FieldErrors
			if !errors.As(err, &fe) {
				t.Errorf("Parse() error is %T, want lookoutv1.FieldErrors", err)
			}
			if diff := cmp.Diff(strings.Split(err.Error(), "\n"), tc.want); diff != "" {
				t.Errorf("Parse() errors (-got +want):\n%s", diff)
			}
		})
	}
}

func TestParseFileErrors(t *testing.T) {
	t.Parallel()
	// A step with 2000 extractions, repeated by alias 1000 times.
	bomb := "name: x\ncheckpoints: [a]\nsteps:\n" +
		"  - &s {request: {url: \"https://e/\"}, extract: [" + strings.Repeat("{name: a, from: status}, ", 2000) + "]}\n" +
		strings.Repeat("  - *s\n", 1000)
	tests := map[string]struct {
		file string
		want string
	}{
		"empty":           {"", "monitor file is empty"},
		"only comments":   {"# nothing here\n", "monitor file is empty"},
		"null document":   {"---\n~\n", "monitor file is empty"},
		"not YAML":        {"name: [x\n", "monitor file is not valid YAML: yaml: line 1: did not find expected ',' or ']'"},
		"two documents":   {"name: a\n---\nname: b\n", "monitor file holds more than one YAML document (the second starts at line 2)"},
		"too big":         {strings.Repeat("#", MaxSize+1), "monitor file is 1048577 bytes; the limit is 1048576 (1 MiB)"},
		"alias expansion": {bomb, "monitor file is too complex: more than 262144 values, counting each copy an alias makes"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m, err := Parse([]byte(tc.file))
			if err == nil {
				t.Fatalf("Parse() = %v, want an error", m)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("Parse() error = %q, want %q", got, tc.want)
			}
		})
	}
}
