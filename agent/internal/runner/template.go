package runner

import (
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"time"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// expand replaces every {{name}} in s with its value in vars, and every
// {{@Function(...)}} with a freshly computed automatic value. Values are
// inserted as they are: they are not expanded again. A "{{" without a closing
// "}}" on the same line, or enclosing nothing, is kept literally.
func expand(s string, vars map[string]string, now time.Time) (string, error) {
	var b strings.Builder
	for {
		start, end, name, ok := nextPlaceholder(s)
		if !ok {
			b.WriteString(s)
			return b.String(), nil
		}
		value, err := resolve(name, vars, now)
		if err != nil {
			return "", err
		}
		b.WriteString(s[:start])
		b.WriteString(value)
		s = s[end:]
	}
}

// nextPlaceholder finds the first {{…}} in s whose trimmed content is a
// non-empty single line without braces.
func nextPlaceholder(s string) (start, end int, name string, ok bool) {
	for off := 0; ; {
		i := strings.Index(s[off:], "{{")
		if i < 0 {
			return 0, 0, "", false
		}
		start = off + i
		j := strings.Index(s[start+2:], "}}")
		if j < 0 {
			return 0, 0, "", false
		}
		inner := s[start+2 : start+2+j]
		name = strings.TrimSpace(inner)
		if name != "" && !strings.ContainsAny(inner, "{}\r\n") {
			return start, start + 2 + j + 2, name, true
		}
		off = start + 1
	}
}

func resolve(name string, vars map[string]string, now time.Time) (string, error) {
	if strings.HasPrefix(name, "@") {
		return automatic(name, now)
	}
	if v, ok := vars[name]; ok {
		return v, nil
	}
	return "", failf(lookoutv1.ErrorClass_ERROR_CLASS_VARIABLE, "variable %q is not defined", name)
}

// automatic computes an automatic variable such as @RandomInt(1,10).
func automatic(expr string, now time.Time) (string, error) {
	fn, args, hasArgs := strings.Cut(expr, "(")
	if hasArgs {
		var closed bool
		args, closed = strings.CutSuffix(args, ")")
		if !closed {
			return "", failf(lookoutv1.ErrorClass_ERROR_CLASS_VARIABLE, "automatic variable %q lacks a closing parenthesis", expr)
		}
	}
	switch strings.ToLower(strings.TrimSpace(fn)) {
	case "@randomguid":
		return randomGUID(), nil
	case "@randomint":
		return randomInt(args)
	case "@datetime":
		return dateTime(args, now)
	}
	return "", failf(lookoutv1.ErrorClass_ERROR_CLASS_VARIABLE, "variable %q is not defined (unknown automatic variable)", expr)
}

func randomGUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // crypto/rand.Read never fails
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// randomInt returns a random integer in [a, b] for args "a,b".
func randomInt(args string) (string, error) {
	lo, hi, ok := strings.Cut(args, ",")
	a, errA := strconv.ParseInt(strings.TrimSpace(lo), 10, 64)
	b, errB := strconv.ParseInt(strings.TrimSpace(hi), 10, 64)
	if !ok || errA != nil || errB != nil || a > b {
		return "", failf(lookoutv1.ErrorClass_ERROR_CLASS_VARIABLE,
			"@RandomInt(%s): expected two integers a,b with a <= b", args)
	}
	span := uint64(b-a) + 1 // wraps to 0 for the full int64 range
	if span == 0 {
		return strconv.FormatInt(int64(mrand.Uint64()), 10), nil
	}
	return strconv.FormatInt(a+int64(mrand.Uint64N(span)), 10), nil
}
