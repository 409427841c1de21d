package runner

import (
	"fmt"
	"regexp"
	"regexp/syntax"
)

// regexBudget bounds the work of matching one regular expression: compiled
// instructions × input bytes. Go's regexp runs in time linear in both, but
// \pL{1000} over a 10 MiB body would still take minutes of CPU that no
// deadline can interrupt.
const regexBudget = 100_000_000

// compileRegexp compiles a user's regular expression for an input of n
// bytes, refusing expressions too costly for that input.
func compileRegexp(expr string, n int) (*regexp.Regexp, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression %q: %w", expr, err)
	}
	parsed, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression %q: %w", expr, err)
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression %q: %w", expr, err)
	}
	if int64(len(prog.Inst))*int64(max(n, 1)) > regexBudget {
		return nil, fmt.Errorf("regular expression %q is too complex to run over %d bytes; simplify it", expr, n)
	}
	return re, nil
}
