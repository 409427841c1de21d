package runner

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// compare applies a comparison to the observed value. It returns an error
// when the comparison cannot be made (not numbers, bad regular expression).
func compare(c lookoutv1.Comparison, o observed, expected string) (bool, error) {
	switch c {
	case lookoutv1.Comparison_COMPARISON_EQUAL:
		return o.present && equalValues(o.value, expected), nil
	case lookoutv1.Comparison_COMPARISON_NOT_EQUAL:
		return !o.present || !equalValues(o.value, expected), nil
	case lookoutv1.Comparison_COMPARISON_CONTAINS:
		return o.present && strings.Contains(o.value, expected), nil
	case lookoutv1.Comparison_COMPARISON_NOT_CONTAINS:
		return !o.present || !strings.Contains(o.value, expected), nil
	case lookoutv1.Comparison_COMPARISON_IS_EMPTY:
		return o.empty(), nil
	case lookoutv1.Comparison_COMPARISON_NOT_EMPTY:
		return !o.empty(), nil
	case lookoutv1.Comparison_COMPARISON_EXISTS:
		return o.present, nil
	case lookoutv1.Comparison_COMPARISON_NOT_EXISTS:
		return !o.present, nil
	case lookoutv1.Comparison_COMPARISON_MATCHES:
		return matches(o, expected)
	case lookoutv1.Comparison_COMPARISON_LESS_THAN, lookoutv1.Comparison_COMPARISON_LESS_OR_EQUAL,
		lookoutv1.Comparison_COMPARISON_GREATER_THAN, lookoutv1.Comparison_COMPARISON_GREATER_OR_EQUAL:
		return order(c, o, expected)
	}
	return false, fmt.Errorf("the assertion has no comparison")
}

// equalValues compares numbers numerically and text ignoring case.
func equalValues(actual, expected string) bool {
	a, aok := parseNumber(actual)
	e, eok := parseNumber(expected)
	if aok && eok {
		return a == e
	}
	return strings.EqualFold(actual, expected)
}

func matches(o observed, expr string) (bool, error) {
	re, err := compileRegexp(expr, len(o.value))
	if err != nil {
		return false, err
	}
	return o.present && re.MatchString(o.value), nil
}

// order implements the less/greater comparisons, which need two numbers.
func order(c lookoutv1.Comparison, o observed, expected string) (bool, error) {
	e, ok := parseNumber(expected)
	if !ok {
		return false, fmt.Errorf("the expected value %q is not a number", expected)
	}
	if !o.present {
		return false, nil
	}
	a, ok := parseNumber(o.value)
	if !ok {
		return false, fmt.Errorf("the actual value %s is not a number", quoteClip(o.value))
	}
	switch c {
	case lookoutv1.Comparison_COMPARISON_LESS_THAN:
		return a < e, nil
	case lookoutv1.Comparison_COMPARISON_LESS_OR_EQUAL:
		return a <= e, nil
	case lookoutv1.Comparison_COMPARISON_GREATER_THAN:
		return a > e, nil
	}
	return a >= e, nil
}

// parseNumber parses a finite decimal number, ignoring surrounding spaces.
func parseNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f, err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
}

// phrases give each comparison's wording: {s} is the subject, {v} the expected value.
var phrases = map[lookoutv1.Comparison]string{
	lookoutv1.Comparison_COMPARISON_EQUAL:            "{s} to equal {v}",
	lookoutv1.Comparison_COMPARISON_NOT_EQUAL:        "{s} not to equal {v}",
	lookoutv1.Comparison_COMPARISON_CONTAINS:         "{s} to contain {v}",
	lookoutv1.Comparison_COMPARISON_NOT_CONTAINS:     "{s} not to contain {v}",
	lookoutv1.Comparison_COMPARISON_LESS_THAN:        "{s} less than {v}",
	lookoutv1.Comparison_COMPARISON_LESS_OR_EQUAL:    "{s} at most {v}",
	lookoutv1.Comparison_COMPARISON_GREATER_THAN:     "{s} greater than {v}",
	lookoutv1.Comparison_COMPARISON_GREATER_OR_EQUAL: "{s} at least {v}",
	lookoutv1.Comparison_COMPARISON_IS_EMPTY:         "{s} to be empty",
	lookoutv1.Comparison_COMPARISON_NOT_EMPTY:        "{s} not to be empty",
	lookoutv1.Comparison_COMPARISON_EXISTS:           "{s} to exist",
	lookoutv1.Comparison_COMPARISON_NOT_EXISTS:       "{s} not to exist",
	lookoutv1.Comparison_COMPARISON_MATCHES:          "{s} to match {v}",
}

// expectation words what an assertion expects: "status 200",
// "$.items[0].id to exist", "body to contain \"ok\"".
func expectation(c lookoutv1.Comparison, o observed, expected string) string {
	if c == lookoutv1.Comparison_COMPARISON_EQUAL && o.numeric {
		return o.subject + " " + o.render(expected)
	}
	format, ok := phrases[c]
	if !ok {
		return o.subject + " (no comparison)"
	}
	value := quoteClip(expected)
	if usesNumber(c) {
		value = o.render(expected)
	}
	return strings.NewReplacer("{s}", o.subject, "{v}", value).Replace(format)
}

func usesNumber(c lookoutv1.Comparison) bool {
	switch c {
	case lookoutv1.Comparison_COMPARISON_EQUAL, lookoutv1.Comparison_COMPARISON_NOT_EQUAL,
		lookoutv1.Comparison_COMPARISON_LESS_THAN, lookoutv1.Comparison_COMPARISON_LESS_OR_EQUAL,
		lookoutv1.Comparison_COMPARISON_GREATER_THAN, lookoutv1.Comparison_COMPARISON_GREATER_OR_EQUAL:
		return true
	}
	return false
}

// quoteClip quotes s, shortened to 100 bytes.
func quoteClip(s string) string {
	const limit = 100
	if len(s) <= limit {
		return strconv.Quote(s)
	}
	return strconv.Quote(clipUTF8(s, limit)) + "…"
}
