package cli

import (
	"strconv"
	"strings"
	"unicode"
)

// oneLine makes text that others wrote safe to print on one line of a terminal: a result's message
// or step error (words from an agent, and from the monitored API's answer), an audit entry's
// target (a run id an agent sent), an agent's instance name and version, a certificate's subject.
// Every string an agent, a monitored API or an uploaded file supplied goes through it on its way
// to a terminal, whatever the command. Runs of white space become one space, and other control
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

// orDash shows an empty cell as "-", so a table's columns stay aligned.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
