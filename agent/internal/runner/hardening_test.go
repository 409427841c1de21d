package runner

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// TestExcerptRedactionIsExactAtTheCut: an API echoes a secret (longer than any fixed read-ahead)
// across the excerpt's end. No part of it may appear in the excerpt, wherever the cut falls in
// it; what comes before it is kept.
func TestExcerptRedactionIsExactAtTheCut(t *testing.T) {
	t.Parallel()
	secret := "S" + strings.Repeat("0123456789abcdef", 512) + "E" // 8 KiB + 2
	for name, before := range map[string]int{
		"cut in its middle":   excerptCap - 4000,
		"cut after one byte":  excerptCap - 1,
		"cut before its last": excerptCap - len(secret) + 1,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body := strings.Repeat("a", before) + secret + strings.Repeat("z", 1000)
			srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body)) }))
			// A failing step keeps the whole capped excerpt (a passing one keeps passingExcerptCap).
			m := monitor(get("echo", srv.URL+"/", statusIs("418")))
			m.SecretVariables = map[string]string{"key": "api-key"}
			res := runMonitor(t, New(Options{}), m, &Secrets{Values: map[string]string{"api-key": secret}})
			ex := res.GetSteps()[0].GetBodyExcerpt()
			if strings.Contains(ex, "S0123") || strings.Contains(ex, "cdef") {
				t.Fatalf("part of the secret shows at the excerpt's end: %q", ex[max(len(ex)-80, 0):])
			}
			// The marker follows the text before the secret, as far as the excerpt's cap allows.
			if want := (strings.Repeat("a", before) + redacted)[:min(before+len(redacted), excerptCap)]; ex != want {
				t.Fatalf("excerpt ends %q, want the text before the secret, then the marker", ex[max(len(ex)-80, 0):])
			}
		})
	}
}

func TestSecretTail(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		s       string
		secrets []string
		want    int
	}{
		{"hello wor", []string{"world"}, 3},
		{"hello world", []string{"world"}, 0}, // whole: the redactor's
		{"xaaa", []string{"aaab"}, 3},
		{"abc", []string{"c", "bcd"}, 2},
		{"abc", []string{"zzz", ""}, 0},
	} {
		if got := secretTail(c.s, c.secrets); got != c.want {
			t.Errorf("secretTail(%q, %q) = %d, want %d", c.s, c.secrets, got, c.want)
		}
	}
	// Overlapping secrets: cutting one tail can uncover another; excerptOf cuts until none is left.
	if got := excerptOf([]byte("keep ab"), true, []string{"bx", "ab"}, newRedactor([]string{"bx", "ab"}), excerptCap); got != "keep "+redacted {
		t.Errorf("excerptOf = %q, want %q", got, "keep "+redacted)
	}
}

// TestResponseHeadersAreCapped: a server that sends more headers than the controller takes in a
// result gets the first ones recorded and the rest counted, so the result is still accepted.
func TestResponseHeadersAreCapped(t *testing.T) {
	t.Parallel()
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range 500 {
			w.Header().Add("X-Many", strconv.Itoa(i))
		}
	}))
	res := runMonitor(t, New(Options{}), monitor(get("many", srv.URL+"/", statusIs("200"))), nil)
	hs := res.GetSteps()[0].GetResponseHeaders()
	if len(hs) != lookoutv1.MaxResultHeaders {
		t.Fatalf("%d response headers recorded, want %d", len(hs), lookoutv1.MaxResultHeaders)
	}
	if last := hs[len(hs)-1]; last.GetName() != omittedHeaders || !strings.HasPrefix(last.GetValue(), "303 more") {
		t.Errorf("last entry %v, want the count of the %d headers left out", last, 303)
	}
	if err := res.ValidateReport(); err != nil {
		t.Errorf("the controller would refuse this result: %v", err)
	}
}

// FuzzExcerptCut: whatever the body, the secret and where the cut falls, an excerpt of a body that
// went on shows neither the secret nor any beginning of it at its end, is valid UTF-8 and fits
// the cap. Secrets are kept to characters the redaction marker lacks, so a match is a leak.
func FuzzExcerptCut(f *testing.F) {
	f.Add("aaaa0123", "0123456", uint16(6))
	f.Add("xx1212121", "1212123", uint16(9))
	f.Add("\xff\xfe01", "01", uint16(3))
	f.Fuzz(func(t *testing.T, body, secret string, cut uint16) {
		secret = strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, secret)
		if len(secret) < 2 || int(cut) > len(body) {
			return
		}
		secrets := secretForms(secret)
		got := excerptOf([]byte(body[:cut]), true, secrets, newRedactor(secrets), excerptCap)
		shown := strings.TrimSuffix(got, redacted)
		if strings.Contains(shown, secret) || secretTail(shown, []string{secret}) > 0 && len(got) < excerptCap {
			t.Fatalf("excerpt %q of %q cut at %d shows (part of) %q", got, body, cut, secret)
		}
		if !utf8.ValidString(got) || len(got) > excerptCap {
			t.Fatalf("excerpt is not valid UTF-8 or over the cap (%d bytes)", len(got))
		}
	})
}

// TestPassingExcerptCutHidesASecretAcrossIt: a passing step keeps passingExcerptCap bytes; a
// secret that starts before that cut and ends after it shows no part of itself either.
func TestPassingExcerptCutHidesASecretAcrossIt(t *testing.T) {
	t.Parallel()
	secret := "Sk-0123456789"
	body := strings.Repeat("a", passingExcerptCap-5) + secret + "tail"
	got := excerptOf([]byte(body), false, []string{secret}, newRedactor([]string{secret}), passingExcerptCap)
	if want := strings.Repeat("a", passingExcerptCap-5) + redacted; got != want[:min(len(want), passingExcerptCap)] {
		t.Fatalf("excerpt ends %q, want the text before the secret, then the marker", got[max(len(got)-40, 0):])
	}
}
