package monitorfile

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

func TestFormat(t *testing.T) {
	t.Parallel()
	m := designMonitor()
	m.Id, m.Version, m.Paused = "m-1", 7, true // controller fields: not written
	m.CreatedAt = timestamppb.New(time.Unix(1, 0))
	got, err := Format(m)
	if err != nil {
		t.Fatalf("Format() error: %v", err)
	}
	want := `name: partner-orders
interval: 1m
timeout: 30s
checkpoints: [public-1, private-1]
variables:
  base: https://127.0.0.1:8443
steps:
  - name: token
    request:
      method: POST
      url: '{{base}}/token'
      headers:
        Content-Type: application/json
      body: '{"client":"lookout"}'
      auth: {type: basic, credentials: api-user}
      client_certificate: {source: vault, item: partner-cert}
    extract:
      - {name: token, from: json, path: $.access_token}
    assert:
      - {source: status, comparison: equal, value: "200"}
  - wait: 2s
  - name: orders
    timeout: 10s
    retry: {max_attempts: 3, wait: 500ms}
    request:
      method: GET
      url: '{{base}}/orders'
      headers:
        Authorization: Bearer {{token}}
    extract:
      - {name: session, from: cookie, path: session}
    assert:
      - {source: json, path: '$.items[0].id', comparison: exists}
      - {source: duration, comparison: less_than, value: "800"}
`
	if diff := cmp.Diff(string(got), want); diff != "" {
		t.Errorf("Format() (-got +want):\n%s", diff)
	}
}

func TestFormatRoundTrip(t *testing.T) {
	t.Parallel()
	tests := map[string]*pb.Monitor{
		"design example": designMonitor(),
		"every field": {
			Name:        "every.field_1",
			Interval:    dur(90 * time.Minute),
			Timeout:     dur(10 * time.Minute),
			Checkpoints: []string{"a"},
			Variables:   map[string]string{"n": "1", "_s": "yes", "multi": "line one\nline two\n"},
			Steps: []*pb.Step{{
				Name:    "all",
				Timeout: dur(0),
				Retry:   &pb.Retry{MaxAttempts: 1, Wait: dur(0)},
				Request: &pb.HttpRequest{
					Method:                  "DELETE",
					Url:                     "http://[::1]:8080/x?y=1#z",
					Headers:                 []*pb.Header{{Name: "A", Value: " padded "}, {Name: "B", Value: "null"}},
					Body:                    "{\n  \"a\": 1\n}\n",
					Auth:                    &pb.Auth{Type: pb.AuthType_AUTH_TYPE_NONE},
					ClientCertificate:       &pb.ClientCertificate{Source: pb.CertificateSource_CERTIFICATE_SOURCE_NONE},
					IgnoreCertificateErrors: true,
				},
				Extract: []*pb.Extraction{
					{Name: "s", From: pb.ExtractFrom_EXTRACT_FROM_STATUS},
					{Name: "r", From: pb.ExtractFrom_EXTRACT_FROM_REGEX, Path: `id="(\d+)"`},
				},
				Assert: []*pb.Assertion{
					{Source: pb.AssertSource_ASSERT_SOURCE_CERT_DAYS_LEFT, Comparison: pb.Comparison_COMPARISON_GREATER_OR_EQUAL, Value: "14"},
					{Source: pb.AssertSource_ASSERT_SOURCE_BODY, Comparison: pb.Comparison_COMPARISON_CONTAINS, Value: "true"},
					{Source: pb.AssertSource_ASSERT_SOURCE_HEADER, Path: "X", Comparison: pb.Comparison_COMPARISON_MATCHES, Value: "^a: [b]$"},
				},
			}},
		},
	}
	for name, m := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if err := m.Validate(); err != nil {
				t.Fatalf("test monitor is invalid:\n%v", err)
			}
			checkRoundTrip(t, m)
		})
	}
}

// checkRoundTrip formats m and parses it back to the same monitor.
func checkRoundTrip(t *testing.T, m *pb.Monitor) {
	t.Helper()
	data, err := Format(m)
	if err != nil {
		t.Fatalf("Format() error: %v", err)
	}
	got, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse(Format()) error:\n%v\nfile:\n%s", err, data)
	}
	want := fileFields(m)
	if diff := cmp.Diff(got, want, protocmp.Transform()); diff != "" {
		t.Errorf("Parse(Format()) (-got +want):\n%s\nfile:\n%s", diff, data)
	}
}

// fileFields is m without the fields a monitor file does not hold.
func fileFields(m *pb.Monitor) *pb.Monitor {
	c := proto.Clone(m).(*pb.Monitor)
	c.Id, c.Version, c.Paused, c.CreatedAt, c.UpdatedAt = "", 0, false, nil, nil
	return c
}

func TestFormatErrors(t *testing.T) {
	t.Parallel()
	dupHeaders := designMonitor()
	dupHeaders.Steps[0].Request.Headers = []*pb.Header{{Name: "A", Value: "1"}, {Name: "A", Value: "2"}}
	badEnum := designMonitor()
	badEnum.Steps[2].Assert[0].Comparison = 99
	tests := map[string]struct {
		m    *pb.Monitor
		want string
	}{
		"nil":              {nil, "formatting a monitor file: monitor is missing"},
		"repeated header":  {dupHeaders, `formatting monitor "partner-orders": steps[0]: header "A" appears twice; a monitor file holds one value per header`},
		"enum has no name": {badEnum, `formatting monitor "partner-orders": value 99 has no name in a monitor file (one of equal, not_equal, contains, not_contains, less_than, less_or_equal, greater_than, greater_or_equal, is_empty, not_empty, exists, not_exists, matches)`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Format(tc.m)
			if err == nil {
				t.Fatal("Format() succeeded, want an error")
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("Format() error = %q, want %q", got, tc.want)
			}
		})
	}
}
