package runner

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

func TestExpand(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"base": "https://h", "id": "7", "braces": "{{id}}"}
	tests := map[string]struct {
		in        string
		want      string
		wantClass lookoutv1.ErrorClass
		wantErr   string
	}{
		"no variables":                  {in: "plain", want: "plain"},
		"variables":                     {in: "{{base}}/orders/{{ id }}", want: "https://h/orders/7"},
		"values are not expanded again": {in: "{{braces}}", want: "{{id}}"},
		"unclosed is literal":           {in: "a {{b", want: "a {{b"},
		"empty is literal":              {in: "{{}} {{ }}", want: "{{}} {{ }}"},
		"JSON body braces":              {in: `{"a":{"b":1}}`, want: `{"a":{"b":1}}`},
		"nested braces literal":         {in: "{{{id}}}", want: "{7}"},
		"undefined":                     {in: "{{base}}/{{nope}}", wantClass: lookoutv1.ErrorClass_ERROR_CLASS_VARIABLE, wantErr: `variable "nope" is not defined`},
		"unknown automatic":             {in: "{{@Nope}}", wantClass: lookoutv1.ErrorClass_ERROR_CLASS_VARIABLE, wantErr: `variable "@Nope" is not defined (unknown automatic variable)`},
		"random int":                    {in: "{{@RandomInt(3,3)}}", want: "3"},
		"random int bad":                {in: "{{@RandomInt(5,1)}}", wantClass: lookoutv1.ErrorClass_ERROR_CLASS_VARIABLE, wantErr: "@RandomInt(5,1): expected two integers a,b with a <= b"},
		"date time":                     {in: "{{@DateTime(yyyy-MM-ddTHH:mm:ss,-2h)}}", want: "2026-03-14T07:26:53"},
		"date time default":             {in: "{{@DateTime()}}", want: "2026-03-14T09:26:53Z"},
		"date time no parens":           {in: "{{@DateTime}}", want: "2026-03-14T09:26:53Z"},
		"date time comma format":        {in: "{{@DateTime(MMM d, yyyy)}}", want: "Mar 14, 2026"},
		"date time bad offset": {in: "{{@DateTime(yyyy,+1x)}}", wantClass: lookoutv1.ErrorClass_ERROR_CLASS_VARIABLE,
			wantErr: `@DateTime(yyyy,+1x): offset "+1x": want e.g. +1d, -2h, 30m, 1d12h, 1w or seconds`},
		"date time seconds offset": {in: "{{@DateTime(HH:mm:ss, 90)}}", want: "09:28:23"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := expand(tt.in, vars, fixedNow)
			class, msg := lookoutv1.ErrorClass_ERROR_CLASS_UNSPECIFIED, ""
			if err != nil {
				class, msg = classOf(err)
			}
			if diff := cmp.Diff([]any{got, class, msg}, []any{tt.want, tt.wantClass, tt.wantErr}); diff != "" {
				t.Errorf("expand(%q) (-got +want):\n%s", tt.in, diff)
			}
		})
	}
}

func TestRandomAutomaticVariables(t *testing.T) {
	t.Parallel()
	guid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 100 {
		g, err := expand("{{@RandomGuid}}", nil, fixedNow)
		if err != nil || !guid.MatchString(g) || seen[g] {
			t.Fatalf("@RandomGuid = %q, %v: want a fresh version 4 UUID", g, err)
		}
		seen[g] = true
		s, err := expand("{{@RandomInt(-2, 2)}}", nil, fixedNow)
		n, _ := strconv.Atoi(s)
		if err != nil || n < -2 || n > 2 {
			t.Fatalf("@RandomInt(-2, 2) = %q, %v", s, err)
		}
	}
	if _, err := expand("{{@RandomInt(-9223372036854775808,9223372036854775807)}}", nil, fixedNow); err != nil {
		t.Errorf("full int64 range: %v", err)
	}
}

func TestFormatDotNet(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 5, 15, 4, 5, 123456700, time.UTC)
	tests := map[string]string{
		"yyyy-MM-dd HH:mm:ss": "2026-01-05 15:04:05",
		"yy/M/d h:m:s tt":     "26/1/5 3:4:5 PM",
		"dddd, MMMM dd":       "Monday, January 05",
		"ddd MMM":             "Mon Jan",
		"HH:mm:ss.fff":        "15:04:05.123",
		"ss.fffffff FFFF":     "05.1234567 1234",
		"'Day' d 'of' MMMM":   "Day 5 of January",
		`\y\y yyyy`:           "yy 2026",
		"zzz K":               "+00:00 Z",
		"o":                   "2026-01-05T15:04:05.1234567Z",
		"s":                   "2026-01-05T15:04:05",
		"u":                   "2026-01-05 15:04:05Z",
		"r":                   "Mon, 05 Jan 2026 15:04:05 GMT",
		"%d":                  "5",
		"é yyyy":              "é 2026",
	}
	for format, want := range tests {
		got, err := formatDotNet(at, format)
		if err != nil || got != want {
			t.Errorf("formatDotNet(%q) = %q, %v; want %q", format, got, err, want)
		}
	}
	for _, bad := range []string{"'open", `trailing\`, "ffffffff"} {
		if got, err := formatDotNet(at, bad); err == nil {
			t.Errorf("formatDotNet(%q) = %q, want an error", bad, got)
		}
	}
}

func TestParseOffset(t *testing.T) {
	t.Parallel()
	tests := map[string]time.Duration{
		"": 0, "+1d": 24 * time.Hour, "-2h": -2 * time.Hour, "30m": 30 * time.Minute, "15s": 15 * time.Second,
		"1w": 7 * 24 * time.Hour, "1d12h": 36 * time.Hour, "-90": -90 * time.Second, " +3600 ": time.Hour,
	}
	for in, want := range tests {
		if got, err := parseOffset(in); err != nil || got != want {
			t.Errorf("parseOffset(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"1x", "d", "1d2", "999999w", "9999999999999", "--1"} {
		if got, err := parseOffset(bad); err == nil {
			t.Errorf("parseOffset(%q) = %v, want an error", bad, got)
		}
	}
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"{{base}}/x", "{{@RandomInt(1,10)}}", "{{@DateTime(yyyy-MM-dd,+1d)}}", "{{ {{x}} }}",
		"{{@DateTime('a,-1w)}}", "{{@RandomGuid}}{{", "{{@RandomInt(-9223372036854775808,9223372036854775807)}}"} {
		f.Add(s)
	}
	vars := map[string]string{"base": "https://h", "x": "{{x}}"}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := expand(s, vars, fixedNow)
		if err != nil {
			if class, _ := classOf(err); class != lookoutv1.ErrorClass_ERROR_CLASS_VARIABLE {
				t.Errorf("expand(%q): class %v, want VARIABLE", s, class)
			}
			return
		}
		if _, _, _, ok := nextPlaceholder(s); !ok && out != s {
			t.Errorf("expand(%q) = %q, want it unchanged", s, out)
		}
	})
}
