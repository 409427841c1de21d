package monitorfile

import (
	"fmt"
	"testing"
	"time"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// awkwardStrings are values YAML would misread if written plainly.
var awkwardStrings = []string{
	"~", "null", "Null", "true", "yes", "on", "no", "1e3", "0x1F", "0o17", "012", ".inf", "-.Inf", ".nan", "1_000",
	"2001-12-14", "a, b", "[x]", "{x}", " lead", "trail ", "#c", "a #c", "-", "- x", "*a", "&a", "!t", "|", ">",
	"'", `"`, "%", "@", "`", "=", "<<", ":", "a: b", "?", "? x", "\t", "a\tb", "\n", "a\n", "\na", "a\n\n", " \n ",
	"\r", "a\rb", "\u2028", "\u0085", "\ufeff", "\x00", "\x7f", "é", "日本", "😀", "---", "...", "--- x", "\\", "{{x}}",
}

func TestFormatRoundTripAwkwardStrings(t *testing.T) {
	t.Parallel()
	for i, s := range awkwardStrings {
		t.Run(fmt.Sprintf("%d_%q", i, s), func(t *testing.T) {
			t.Parallel()
			m := &pb.Monitor{
				Name:        "awkward",
				Interval:    dur(time.Minute),
				Timeout:     dur(time.Second),
				Checkpoints: []string{s},
				Variables:   map[string]string{"v": s},
				Steps: []*pb.Step{{
					Name:    s,
					Request: &pb.HttpRequest{Method: "GET", Url: "https://e/", Body: s},
					Assert: []*pb.Assertion{
						{Source: pb.AssertSource_ASSERT_SOURCE_BODY, Comparison: pb.Comparison_COMPARISON_EQUAL, Value: s},
						{Source: pb.AssertSource_ASSERT_SOURCE_HEADER, Path: s, Comparison: pb.Comparison_COMPARISON_EXISTS},
					},
				}},
			}
			checkRoundTrip(t, m)
		})
	}
}

func TestFormatRoundTripAwkwardHeaderNames(t *testing.T) {
	t.Parallel()
	names := []string{"~", "!", "!t", "#a", "&a", "*a", "|", "%", "`", "'", "-", "--", "---", "1", "0x1", "1e3",
		"true", "Yes", "null", ".inf", "2001-12-14", "a.b", "_", "+", "^", "$"}
	var headers []*pb.Header
	for _, n := range names {
		headers = append(headers, &pb.Header{Name: n, Value: n})
	}
	m := &pb.Monitor{
		Name:        "headers",
		Interval:    dur(time.Minute),
		Timeout:     dur(time.Second),
		Checkpoints: []string{"a"},
		Steps:       []*pb.Step{{Request: &pb.HttpRequest{Method: "GET", Url: "https://e/", Headers: sortedHeaders(headers)}}},
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("test monitor is invalid:\n%v", err)
	}
	checkRoundTrip(t, m)
}

func sortedHeaders(hs []*pb.Header) []*pb.Header {
	m := make(map[string]string)
	for _, h := range hs {
		m[h.Name] = h.Value
	}
	return headers(m)
}
