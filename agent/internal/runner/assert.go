package runner

import (
	"strings"
	"time"
	"unicode/utf8"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"google.golang.org/protobuf/proto"
)

// maxActual caps the actual value kept in an assertion result.
const maxActual = 1024

// observed is what an assertion's source found in the response.
type observed struct {
	subject  string // "status", "$.items[0].id", `header "X-Id"`
	numeric  bool   // a number by nature: status, duration, size, days
	unit     string // " ms", " bytes", " days"
	value    string
	present  bool
	jsonNode bool  // value is a rendered JSON node
	quiet    bool  // the body: too long to repeat in messages
	err      error // the source could not be read
}

// empty is true for missing values, "" and, for JSON, null, [] and {}.
func (o observed) empty() bool {
	if !o.present || o.value == "" {
		return true
	}
	return o.jsonNode && (o.value == "null" || o.value == "[]" || o.value == "{}")
}

// render shows a value in messages: numbers bare with their unit, text quoted.
func (o observed) render(v string) string {
	if _, ok := parseNumber(v); ok {
		return strings.TrimSpace(v) + o.unit
	}
	return quoteClip(v)
}

// evaluateAll evaluates every assertion of a step and reports each. The
// error describes the first failure, if any. expand resolves {{variables}}
// in an assertion's path and value; redact hides secrets in what is reported
// before values are shortened.
func evaluateAll(as []*lookoutv1.Assertion, rsp *response, now time.Time,
	expand func(string) (string, error), redact func(string) string) ([]*lookoutv1.AssertionResult, error) {
	var results []*lookoutv1.AssertionResult
	var failures []string
	for _, a := range as {
		res := evaluateExpanded(a, rsp, now, expand, redact)
		results = append(results, res)
		if !res.GetPassed() {
			failures = append(failures, res.GetMessage())
		}
	}
	switch len(failures) {
	case 0:
		return results, nil
	case 1:
		return results, failf(lookoutv1.ErrorClass_ERROR_CLASS_ASSERTION, "%s", failures[0])
	}
	more := "assertions"
	if len(failures) == 2 {
		more = "assertion"
	}
	return results, failf(lookoutv1.ErrorClass_ERROR_CLASS_ASSERTION,
		"%s (and %d more failed %s)", failures[0], len(failures)-1, more)
}

// evaluateExpanded resolves the variables of a and evaluates it; an
// undefined variable fails this assertion alone.
func evaluateExpanded(a *lookoutv1.Assertion, rsp *response, now time.Time,
	expand func(string) (string, error), redact func(string) string) *lookoutv1.AssertionResult {
	path, err := expand(a.GetPath())
	value := a.GetValue()
	if err == nil {
		value, err = expand(value)
	}
	if err != nil {
		_, msg := classOf(err)
		return &lookoutv1.AssertionResult{Assertion: proto.CloneOf(a), Message: redact(msg)}
	}
	resolved := proto.CloneOf(a)
	resolved.Path, resolved.Value = path, value
	return evaluate(resolved, rsp, now, redact)
}

// evaluate checks one assertion against the response. The result holds the
// assertion `a` itself, not a copy: pass a copy of anything the monitor owns.
func evaluate(a *lookoutv1.Assertion, rsp *response, now time.Time, redact func(string) string) *lookoutv1.AssertionResult {
	o := observe(a, rsp, now)
	passed, err := false, o.err
	if err == nil {
		passed, err = compare(a.GetComparison(), o, a.GetValue())
	}
	shown := o
	shown.value = redact(o.value)
	return &lookoutv1.AssertionResult{
		Assertion: a,
		Passed:    passed && err == nil,
		Actual:    clipUTF8(shown.value, maxActual),
		Message:   message(a.GetComparison(), shown, redact(a.GetValue()), passed, err),
	}
}

// message reads like "expected status 200, got 503".
func message(c lookoutv1.Comparison, o observed, expected string, passed bool, err error) string {
	if o.err != nil {
		return o.err.Error()
	}
	m := "expected " + expectation(c, o, expected)
	switch {
	case err != nil:
		return m + ", but " + err.Error()
	case !o.present && !passed && c != lookoutv1.Comparison_COMPARISON_EXISTS:
		return m + ", but it does not exist"
	case !o.present || o.quiet:
		return m
	}
	return m + ", got " + o.render(o.value)
}

// clipUTF8 shortens s to at most n bytes without splitting a character.
func clipUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
