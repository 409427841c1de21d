package importer

import (
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Uptrends enum words, spelled as the Uptrends API writes them.
const (
	stepHTTP  = "HttpRequest"
	stepDelay = "Delay"

	srcJSON       = "ResponseBodyJson"
	srcXML        = "ResponseBodyXml"
	srcText       = "ResponseBodyText"
	srcHeader     = "ResponseHeader"
	srcCookie     = "Cookie"
	srcStatus     = "ResponseStatusCode"
	srcStatusText = "ResponseStatusDescription"
	srcDuration   = "Duration"
	srcConstant   = "Constant"

	cmpIgnored = "ShouldBeIgnored"
	cmpIsNull  = "IsNull"
	cmpNotNull = "IsNotNull"

	bodyRaw       = "Raw"
	bodyNone      = "None"
	bodyMultipart = "Multipart"
)

var (
	stepTypes = []string{stepHTTP, stepDelay}
	methods   = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
	bodyTypes = []string{bodyRaw, bodyNone, bodyMultipart}
	sources   = []string{srcJSON, srcXML, srcText, srcHeader, srcCookie, srcStatus, srcStatusText, srcDuration, srcConstant}
)

// authTypes maps Uptrends' AuthenticationType to Lookout's.
var authTypes = []pair[pb.AuthType]{
	{"None", pb.AuthType_AUTH_TYPE_NONE},
	{"Basic", pb.AuthType_AUTH_TYPE_BASIC},
	{"NTLM", pb.AuthType_AUTH_TYPE_NTLM},
	{"Digest", pb.AuthType_AUTH_TYPE_DIGEST},
}

// extractSources maps a variable's Source to where Lookout extracts it from.
// Constant is not extracted: it becomes a predefined variable.
var extractSources = []pair[pb.ExtractFrom]{
	{srcJSON, pb.ExtractFrom_EXTRACT_FROM_JSON},
	{srcXML, pb.ExtractFrom_EXTRACT_FROM_XPATH},
	{srcText, pb.ExtractFrom_EXTRACT_FROM_REGEX},
	{srcHeader, pb.ExtractFrom_EXTRACT_FROM_HEADER},
	{srcCookie, pb.ExtractFrom_EXTRACT_FROM_COOKIE},
	{srcStatus, pb.ExtractFrom_EXTRACT_FROM_STATUS},
	{srcStatusText, pb.ExtractFrom_EXTRACT_FROM_STATUS_TEXT},
	{srcDuration, pb.ExtractFrom_EXTRACT_FROM_DURATION},
}

// assertSources maps an assertion's Source to Lookout's. Lookout cannot
// assert on the status description or on a constant.
var assertSources = []pair[pb.AssertSource]{
	{srcJSON, pb.AssertSource_ASSERT_SOURCE_JSON},
	{srcXML, pb.AssertSource_ASSERT_SOURCE_XPATH},
	{srcText, pb.AssertSource_ASSERT_SOURCE_BODY},
	{srcHeader, pb.AssertSource_ASSERT_SOURCE_HEADER},
	{srcCookie, pb.AssertSource_ASSERT_SOURCE_COOKIE},
	{srcStatus, pb.AssertSource_ASSERT_SOURCE_STATUS},
	{srcDuration, pb.AssertSource_ASSERT_SOURCE_DURATION},
}

// comparisons maps an assertion's Comparison to Lookout's. IsNull, IsNotNull
// and ShouldBeIgnored have no Lookout comparison (see assertion).
var comparisons = []pair[pb.Comparison]{
	{"Equal", pb.Comparison_COMPARISON_EQUAL},
	{"DoesNotEqual", pb.Comparison_COMPARISON_NOT_EQUAL},
	{"ContainsText", pb.Comparison_COMPARISON_CONTAINS},
	{"DoesNotContainText", pb.Comparison_COMPARISON_NOT_CONTAINS},
	{"LessThan", pb.Comparison_COMPARISON_LESS_THAN},
	{"GreaterThan", pb.Comparison_COMPARISON_GREATER_THAN},
	{"LessThanOrEqual", pb.Comparison_COMPARISON_LESS_OR_EQUAL},
	{"GreaterThanOrEqual", pb.Comparison_COMPARISON_GREATER_OR_EQUAL},
	{"IsEmpty", pb.Comparison_COMPARISON_IS_EMPTY},
	{"IsNotEmpty", pb.Comparison_COMPARISON_NOT_EMPTY},
	{"Exists", pb.Comparison_COMPARISON_EXISTS},
	{"DoesNotExist", pb.Comparison_COMPARISON_NOT_EXISTS},
}

var comparisonWords = append(words(comparisons), cmpIsNull, cmpNotNull, cmpIgnored)

// pair is one Uptrends word and the Lookout value it stands for.
type pair[T comparable] struct {
	word  string
	value T
}

func words[T comparable](ps []pair[T]) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.word
	}
	return out
}

func valueOf[T comparable](ps []pair[T], word string) (T, bool) {
	for _, p := range ps {
		if p.word == word {
			return p.value, true
		}
	}
	var zero T
	return zero, false
}

func wordOf[T comparable](ps []pair[T], v T) (string, bool) {
	for _, p := range ps {
		if p.value == v {
			return p.word, true
		}
	}
	return "", false
}
