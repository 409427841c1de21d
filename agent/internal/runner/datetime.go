package runner

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// dateTime implements @DateTime(format,offset); see the package documentation.
func dateTime(args string, now time.Time) (string, error) {
	format, offset := splitDateTimeArgs(args)
	d, err := parseOffset(offset)
	if err != nil {
		return "", failf(lookoutv1.ErrorClass_ERROR_CLASS_VARIABLE, "@DateTime(%s): %v", args, err)
	}
	out, err := formatDotNet(now.UTC().Add(d), format)
	if err != nil {
		return "", failf(lookoutv1.ErrorClass_ERROR_CLASS_VARIABLE, "@DateTime(%s): %v", args, err)
	}
	return out, nil
}

// splitDateTimeArgs separates the optional trailing offset from the format,
// which may itself contain commas ("MMM d, yyyy"): the text after the last
// comma is an offset when it starts with a sign or a digit.
func splitDateTimeArgs(args string) (format, offset string) {
	i := strings.LastIndex(args, ",")
	if i < 0 {
		return strings.TrimSpace(args), ""
	}
	tail := strings.TrimSpace(args[i+1:])
	if tail == "" || !strings.ContainsRune("+-0123456789", rune(tail[0])) {
		return strings.TrimSpace(args), ""
	}
	return strings.TrimSpace(args[:i]), tail
}

// maxOffset bounds @DateTime offsets well inside time.Duration's range.
const maxOffset = 100 * 366 * 24 * time.Hour

var offsetUnits = map[byte]time.Duration{
	'w': 7 * 24 * time.Hour, 'd': 24 * time.Hour, 'h': time.Hour, 'm': time.Minute, 's': time.Second,
}

// parseOffset parses "+1d", "-2h", "1d12h", "30m" or plain seconds ("-90").
func parseOffset(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	rest, negative := strings.CutPrefix(s, "-")
	if !negative {
		rest = strings.TrimPrefix(rest, "+")
	}
	d, err := unsignedOffset(rest)
	if err != nil {
		return 0, fmt.Errorf("offset %q: %w", s, err)
	}
	if negative {
		return -d, nil
	}
	return d, nil
}

// unsignedOffset parses seconds ("90") or number-unit pairs ("1d12h").
func unsignedOffset(s string) (time.Duration, error) {
	if n, err := strconv.ParseUint(s, 10, 64); err == nil && n <= uint64(maxOffset/time.Second) {
		return time.Duration(n) * time.Second, nil
	}
	var total time.Duration
	for s != "" {
		digits := len(s) - len(strings.TrimLeft(s, "0123456789"))
		if digits == 0 || digits > 6 || digits == len(s) || offsetUnits[s[digits]] == 0 {
			return 0, constError("want e.g. +1d, -2h, 30m, 1d12h, 1w or seconds")
		}
		n, _ := strconv.Atoi(s[:digits])
		unit := offsetUnits[s[digits]]
		if time.Duration(n) > maxOffset/unit || total+time.Duration(n)*unit > maxOffset {
			return 0, constError("more than 100 years")
		}
		total += time.Duration(n) * unit
		s = s[digits+1:]
	}
	return total, nil
}

var standardFormats = map[string]string{
	"o": "yyyy-MM-ddTHH:mm:ss.fffffffK",
	"O": "yyyy-MM-ddTHH:mm:ss.fffffffK",
	"s": "yyyy-MM-ddTHH:mm:ss",
	"u": "yyyy-MM-dd HH:mm:ssZ",
	"r": "ddd, dd MMM yyyy HH:mm:ss 'GMT'",
	"R": "ddd, dd MMM yyyy HH:mm:ss 'GMT'",
	"":  "yyyy-MM-ddTHH:mm:ssK",
}

// formatDotNet formats t with a .NET custom (or standard) date format string.
func formatDotNet(t time.Time, format string) (string, error) {
	if std, ok := standardFormats[format]; ok {
		format = std
	}
	var b strings.Builder
	for i := 0; i < len(format); {
		n, err := formatToken(&b, t, format[i:])
		if err != nil {
			return "", err
		}
		i += n
	}
	return b.String(), nil
}

// formatToken writes the token at the start of f and returns its length.
func formatToken(b *strings.Builder, t time.Time, f string) (int, error) {
	switch c := f[0]; c {
	case '\'', '"':
		end := strings.IndexByte(f[1:], c)
		if end < 0 {
			return 0, fmt.Errorf("format: unterminated quote")
		}
		b.WriteString(f[1 : 1+end])
		return end + 2, nil
	case '\\':
		if len(f) < 2 {
			return 0, fmt.Errorf("format: trailing backslash")
		}
		b.WriteByte(f[1])
		return 2, nil
	case '%':
		return 1, nil
	}
	n := 1
	for n < len(f) && f[n] == f[0] {
		n++
	}
	s, err := formatRun(t, f[:n])
	if err != nil {
		return 0, err
	}
	b.WriteString(s)
	return n, nil
}

// formatRun formats a run of one repeated pattern letter; other bytes are
// copied as they are.
func formatRun(t time.Time, run string) (string, error) {
	c, n := run[0], len(run)
	switch c {
	case 'y':
		return formatYear(t.Year(), n), nil
	case 'M':
		return formatNamed(int(t.Month()), n, t.Month().String()), nil
	case 'd':
		return formatNamed(t.Day(), n, t.Weekday().String()), nil
	case 'H':
		return pad(t.Hour(), n), nil
	case 'h':
		return pad((t.Hour()+11)%12+1, n), nil
	case 'm':
		return pad(t.Minute(), n), nil
	case 's':
		return pad(t.Second(), n), nil
	case 'f', 'F':
		return formatFraction(t, c, n)
	case 't':
		return formatAMPM(t, n), nil
	case 'z':
		return formatZone(t, n), nil
	case 'K':
		return formatK(t), nil
	}
	return run, nil
}

func pad(v, n int) string {
	if n >= 2 {
		return fmt.Sprintf("%02d", v)
	}
	return strconv.Itoa(v)
}

func formatYear(year, n int) string {
	switch n {
	case 1:
		return strconv.Itoa(year % 100)
	case 2:
		return fmt.Sprintf("%02d", year%100)
	}
	return fmt.Sprintf("%0*d", min(n, 9), year)
}

// formatNamed formats a month or day: 1–2 letters numeric, 3 abbreviated, 4+ full.
func formatNamed(v, n int, name string) string {
	switch {
	case n <= 2:
		return pad(v, n)
	case n == 3:
		return name[:3]
	}
	return name
}

func formatFraction(t time.Time, c byte, n int) (string, error) {
	if n > 7 {
		return "", fmt.Errorf("format: at most 7 %c", c)
	}
	digits := fmt.Sprintf("%09d", t.Nanosecond())[:n]
	if c == 'F' {
		digits = strings.TrimRight(digits, "0")
	}
	return digits, nil
}

func formatAMPM(t time.Time, n int) string {
	s := "AM"
	if t.Hour() >= 12 {
		s = "PM"
	}
	return s[:min(n, 2)]
}

func formatZone(t time.Time, n int) string {
	_, off := t.Zone()
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	h, m := off/3600, off%3600/60
	switch n {
	case 1:
		return sign + strconv.Itoa(h)
	case 2:
		return fmt.Sprintf("%s%02d", sign, h)
	}
	return fmt.Sprintf("%s%02d:%02d", sign, h, m)
}

func formatK(t time.Time) string {
	if t.Location() == time.UTC {
		return "Z"
	}
	return formatZone(t, 3)
}
