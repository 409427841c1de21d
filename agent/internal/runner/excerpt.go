package runner

import "strings"

// excerptOf is the body excerpt a result shows: the kept start of the body with every secret
// redacted and valid UTF-8, at most limit bytes (excerptLimit). When the body went on past what was kept
// (more), a secret may start inside the excerpt and end after it, where the redactor cannot see
// it whole: the excerpt then ends before any tail that begins a secret, and says so with the
// marker, so no part of a secret is shown however long the secret is.
func excerptOf(kept []byte, more bool, secrets []string, redact func(string) string, limit int) string {
	if len(kept) > limit {
		kept, more = kept[:limit], true
	}
	s := string(kept)
	marker := ""
	if more {
		for n := secretTail(s, secrets); n > 0; n = secretTail(s, secrets) {
			s, marker = s[:len(s)-n], redacted
		}
	}
	return excerptText(redact(s)+marker, limit)
}

// secretTail is the length of the longest end of s that is the beginning (not the whole) of one
// of secrets; 0 when there is none. Cutting it off can leave a shorter such end (secrets that
// overlap themselves or each other): the caller repeats until there is none.
func secretTail(s string, secrets []string) int {
	longest := 0
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		from := max(len(s)-len(sec)+1, 0) // a whole occurrence is the redactor's
		for j := from; j < len(s); j++ {
			if s[j] == sec[0] && strings.HasPrefix(sec, s[j:]) {
				longest = max(longest, len(s)-j)
				break // the first start found is the longest tail for this secret
			}
		}
	}
	return longest
}
