package suggest

import (
	"strings"
	"unicode"
)

// Closest returns the candidate nearest to word, or "" when none is near
// enough to be a likely typo. Case and the separators '-', '_' and ' ' are
// ignored, so "not-equal" suggests "not_equal"; a candidate that starts with
// word, or that word starts with ("equals" → "equal"), counts as near.
func Closest(word string, candidates []string) string {
	w := fold(word)
	if !strings.ContainsFunc(w, unicode.IsLetter) {
		return "" // "1.4" is not a typo of "1.0"
	}
	best, bestDist := "", -1
	for _, c := range candidates {
		d := distance(w, fold(c))
		if d < 0 || (bestDist >= 0 && d >= bestDist) {
			continue
		}
		best, bestDist = c, d
	}
	return best
}

// distance is the edit distance between a and b when it is small enough to be
// a typo (at most a third of the longer word, and at least 1 allowed), a
// large distance when one starts with the other (weaker than any typo), and -1
// otherwise.
func distance(a, b string) int {
	if d := levenshtein(a, b); d <= max(max(len(a), len(b))/3, 1) {
		return d
	}
	if len(a) >= 3 && len(b) >= 3 && (strings.HasPrefix(a, b) || strings.HasPrefix(b, a)) {
		return 1 << 10
	}
	return -1
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func fold(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == ' ' {
			return -1
		}
		return r
	}, strings.ToLower(s))
}

// Hint is ` (did you mean "x"?)` for the closest candidate, or "".
func Hint(word string, candidates []string) string {
	if c := Closest(word, candidates); c != "" && c != word {
		return ` (did you mean "` + c + `"?)`
	}
	return ""
}
