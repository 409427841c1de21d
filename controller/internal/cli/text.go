package cli

import (
	"strconv"
	"strings"
	"unicode"
)

// oneLine makes text that others wrote safe to print on one line of a terminal: a result's message
// or step error (words from an agent, and from the monitored API's answer), an audit entry's
// target (a run id an agent sent). Runs of white space become one space, and other control
// characters, an escape sequence among them, are shown escaped instead of reaching the terminal.
func oneLine(s string) string {
	var b strings.Builder
	for _, r := range strings.Join(strings.Fields(s), " ") {
		if unicode.IsPrint(r) {
			b.WriteRune(r)
		} else {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
	}
	return b.String()
}
