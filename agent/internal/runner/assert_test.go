package runner

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"google.golang.org/protobuf/testing/protocmp"
)

const sampleJSON = `{"name":"Alice","count":"5","n":5,"empty":"","list":[],"nul":null,"items":[{"id":7,"Price":1.5}]}`

func sampleResponse() *response {
	h := http.Header{}
	h.Set("X-Id", "a")
	h.Add("Set-Cookie", "session=s-1; Path=/")
	return &response{status: 200, statusText: "OK", header: h, body: []byte(sampleJSON),
		size: int64(len(sampleJSON)), elapsed: 120 * time.Millisecond}
}

func assertion(src lookoutv1.AssertSource, path string, c lookoutv1.Comparison, value string) *lookoutv1.Assertion {
	return &lookoutv1.Assertion{Source: src, Path: path, Comparison: c, Value: value}
}

const (
	sStatus   = lookoutv1.AssertSource_ASSERT_SOURCE_STATUS
	sBody     = lookoutv1.AssertSource_ASSERT_SOURCE_BODY
	sJSON     = lookoutv1.AssertSource_ASSERT_SOURCE_JSON
	sHeader   = lookoutv1.AssertSource_ASSERT_SOURCE_HEADER
	sCookie   = lookoutv1.AssertSource_ASSERT_SOURCE_COOKIE
	sDuration = lookoutv1.AssertSource_ASSERT_SOURCE_DURATION
	sSize     = lookoutv1.AssertSource_ASSERT_SOURCE_SIZE
	sXPath    = lookoutv1.AssertSource_ASSERT_SOURCE_XPATH
	sCertDays = lookoutv1.AssertSource_ASSERT_SOURCE_CERT_DAYS_LEFT

	cEq       = lookoutv1.Comparison_COMPARISON_EQUAL
	cNe       = lookoutv1.Comparison_COMPARISON_NOT_EQUAL
	cContains = lookoutv1.Comparison_COMPARISON_CONTAINS
	cNotCont  = lookoutv1.Comparison_COMPARISON_NOT_CONTAINS
	cLt       = lookoutv1.Comparison_COMPARISON_LESS_THAN
	cLe       = lookoutv1.Comparison_COMPARISON_LESS_OR_EQUAL
	cGt       = lookoutv1.Comparison_COMPARISON_GREATER_THAN
	cGe       = lookoutv1.Comparison_COMPARISON_GREATER_OR_EQUAL
	cEmpty    = lookoutv1.Comparison_COMPARISON_IS_EMPTY
	cNotEmpty = lookoutv1.Comparison_COMPARISON_NOT_EMPTY
	cExists   = lookoutv1.Comparison_COMPARISON_EXISTS
	cNotExist = lookoutv1.Comparison_COMPARISON_NOT_EXISTS
	cMatches  = lookoutv1.Comparison_COMPARISON_MATCHES
)

type verdict struct {
	Passed  bool
	Actual  string
	Message string
}

func TestComparisons(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		a    *lookoutv1.Assertion
		want verdict
	}{
		"equal status":               {assertion(sStatus, "", cEq, "200"), verdict{true, "200", "expected status 200, got 200"}},
		"equal numbers numerically":  {assertion(sStatus, "", cEq, "200.0"), verdict{true, "200", "expected status 200.0, got 200"}},
		"equal JSON number to text":  {assertion(sJSON, "count", cEq, "5.00"), verdict{true, "5", "expected $.count to equal 5.00, got 5"}},
		"equal text ignores case":    {assertion(sJSON, "$.name", cEq, "alice"), verdict{true, "Alice", `expected $.name to equal "alice", got "Alice"`}},
		"equal fails":                {assertion(sHeader, "X-Id", cEq, "b"), verdict{false, "a", `expected header "X-Id" to equal "b", got "a"`}},
		"equal on a missing value":   {assertion(sJSON, "$.missing", cEq, "x"), verdict{false, "", `expected $.missing to equal "x", but it does not exist`}},
		"not equal passes":           {assertion(sStatus, "", cNe, "500"), verdict{true, "200", "expected status not to equal 500, got 200"}},
		"not equal fails":            {assertion(sStatus, "", cNe, "200"), verdict{false, "200", "expected status not to equal 200, got 200"}},
		"contains":                   {assertion(sBody, "", cContains, "Alice"), verdict{true, sampleJSON, `expected body to contain "Alice"`}},
		"contains is case sensitive": {assertion(sBody, "", cContains, "alice"), verdict{false, sampleJSON, `expected body to contain "alice"`}},
		"not contains passes":        {assertion(sBody, "", cNotCont, "error"), verdict{true, sampleJSON, `expected body not to contain "error"`}},
		"not contains fails":         {assertion(sHeader, "x-id", cNotCont, "a"), verdict{false, "a", `expected header "x-id" not to contain "a", got "a"`}},
		"less than":                  {assertion(sDuration, "", cLt, "800"), verdict{true, "120", "expected duration less than 800 ms, got 120 ms"}},
		"less than fails":            {assertion(sDuration, "", cLt, "120"), verdict{false, "120", "expected duration less than 120 ms, got 120 ms"}},
		"less or equal":              {assertion(sDuration, "", cLe, "120"), verdict{true, "120", "expected duration at most 120 ms, got 120 ms"}},
		"greater than fails":         {assertion(sSize, "", cGt, "1000"), verdict{false, "97", "expected body size greater than 1000 bytes, got 97 bytes"}},
		"greater or equal":           {assertion(sJSON, "items[0].Price", cGe, "1.5"), verdict{true, "1.5", "expected $.items[0].Price at least 1.5, got 1.5"}},
		"less than needs numbers": {assertion(sJSON, "name", cLt, "5"),
			verdict{false, "Alice", `expected $.name less than 5, but the actual value "Alice" is not a number`}},
		"less than needs a number to compare with": {assertion(sStatus, "", cLt, "abc"),
			verdict{false, "200", `expected status less than "abc", but the expected value "abc" is not a number`}},
		"greater than on a missing value": {assertion(sHeader, "X-None", cGt, "1"),
			verdict{false, "", `expected header "X-None" greater than 1, but it does not exist`}},
		"is empty string":         {assertion(sJSON, "empty", cEmpty, ""), verdict{true, "", `expected $.empty to be empty, got ""`}},
		"is empty array":          {assertion(sJSON, "list", cEmpty, ""), verdict{true, "[]", `expected $.list to be empty, got "[]"`}},
		"is empty when missing":   {assertion(sCookie, "none", cEmpty, ""), verdict{true, "", `expected cookie "none" to be empty`}},
		"is empty fails":          {assertion(sJSON, "name", cEmpty, ""), verdict{false, "Alice", `expected $.name to be empty, got "Alice"`}},
		"not empty fails on null": {assertion(sJSON, "nul", cNotEmpty, ""), verdict{false, "null", `expected $.nul not to be empty, got "null"`}},
		"not empty":               {assertion(sCookie, "session", cNotEmpty, ""), verdict{true, "s-1", `expected cookie "session" not to be empty, got "s-1"`}},
		"exists":                  {assertion(sJSON, "$.items[0].id", cExists, ""), verdict{true, "7", "expected $.items[0].id to exist, got 7"}},
		"exists fails":            {assertion(sJSON, "$.items[1].id", cExists, ""), verdict{false, "", "expected $.items[1].id to exist"}},
		"not exists":              {assertion(sHeader, "X-Debug", cNotExist, ""), verdict{true, "", `expected header "X-Debug" not to exist`}},
		"not exists fails":        {assertion(sHeader, "X-Id", cNotExist, ""), verdict{false, "a", `expected header "X-Id" not to exist, got "a"`}},
		"matches":                 {assertion(sJSON, "name", cMatches, "^A.*e$"), verdict{true, "Alice", `expected $.name to match "^A.*e$", got "Alice"`}},
		"matches fails":           {assertion(sStatus, "", cMatches, "^3"), verdict{false, "200", `expected status to match "^3", got 200`}},
		"matches a bad expression": {assertion(sJSON, "name", cMatches, "("), verdict{false, "Alice",
			"expected $.name to match \"(\", but invalid regular expression \"(\": error parsing regexp: missing closing ): `(`"}},
		"no comparison": {assertion(sStatus, "", lookoutv1.Comparison_COMPARISON_UNSPECIFIED, "200"),
			verdict{false, "200", "expected status (no comparison), but the assertion has no comparison"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res := evaluate(tt.a, sampleResponse(), fixedNow, func(s string) string { return s })
			got := verdict{res.GetPassed(), res.GetActual(), res.GetMessage()}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(res.GetAssertion(), tt.a, protocmp.Transform()); diff != "" {
				t.Errorf("reported assertion (-got +want):\n%s", diff)
			}
		})
	}
}

func TestAssertionSourceErrors(t *testing.T) {
	t.Parallel()
	notJSON := sampleResponse()
	notJSON.body = []byte("<html>")
	tests := map[string]struct {
		a    *lookoutv1.Assertion
		rsp  *response
		want string
	}{
		"malformed JSON": {assertion(sJSON, "$.a", cExists, ""), notJSON,
			"response body is not valid JSON: invalid character '<' looking for beginning of value"},
		"invalid JSON path":   {assertion(sJSON, "$[", cExists, ""), sampleResponse(), `invalid JSON path "$[": jsonpath: unexpected eof at position 3`},
		"XPath on JSON":       {assertion(sXPath, "//a", cExists, ""), sampleResponse(), "response body is not valid XML: xmlquery: invalid XML document"},
		"no source":           {assertion(lookoutv1.AssertSource_ASSERT_SOURCE_UNSPECIFIED, "", cExists, ""), sampleResponse(), "the assertion has no source"},
		"cert days over HTTP": {assertion(sCertDays, "", cGt, "10"), sampleResponse(), "the response did not come over TLS, so there is no server certificate to check"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res := evaluate(tt.a, tt.rsp, fixedNow, func(s string) string { return s })
			if diff := cmp.Diff(verdict{res.GetPassed(), "", res.GetMessage()}, verdict{false, "", tt.want}); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}
}

// TestAllSourcesOverHTTPS checks every source against a real response, and
// that every assertion is reported even after the first one fails.
func TestAllSourcesOverHTTPS(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	srv := newTLSServer(t, ca, false, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "abc"})
		w.Header().Set("X-Request-Id", "r-1")
		jsonHandler(`{"items":[{"id":"7"}]}`)(w, nil)
	}))
	step := get("all", srv.URL,
		statusIs("201"), // fails first; the others are still evaluated
		assertion(sBody, "", cContains, `"id"`),
		assertion(sJSON, "$.items[0].id", cExists, ""),
		assertion(sHeader, "x-request-id", cEq, "R-1"),
		assertion(sCookie, "session", cEq, "abc"),
		assertion(sDuration, "", cLt, "10000"),
		assertion(sSize, "", cEq, "22"),
		assertion(sCertDays, "", cGe, "10"),
		assertion(sCertDays, "", cLt, "11"),
		assertion(sXPath, "//id", cExists, ""),
	)
	res := runMonitor(t, New(Options{RootCAs: ca.pool}), monitor(step), nil)
	var got []bool
	for _, a := range res.GetSteps()[0].GetAssertions() {
		got = append(got, a.GetPassed())
	}
	want := []bool{false, true, true, true, true, true, true, true, true, false}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("passed per assertion (-got +want):\n%s", diff)
	}
	if got, want := res.GetSteps()[0].GetError(), "expected status 201, got 200 (and 1 more failed assertion)"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
	if res.GetErrorClass() != lookoutv1.ErrorClass_ERROR_CLASS_ASSERTION {
		t.Errorf("class = %v, want ASSERTION", res.GetErrorClass())
	}
}
