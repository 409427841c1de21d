package monitorfile

import (
	"fmt"
	"strings"
	"testing"
)

// The attack from issue 18: a file under the 1 MiB cap with one large anchor used by many aliases
// must not become a monitor many times its size. Each way of amplifying is refused with a message
// about the file, and an ordinary use of aliases still parses.
func TestAliasesCannotAmplifyAMonitor(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 500<<10)
	var aliases strings.Builder
	for i := range 200 {
		fmt.Fprintf(&aliases, "  v%d: *big\n", i)
	}
	var many strings.Builder
	for i := range 1001 {
		fmt.Fprintf(&many, "  v%d: *s\n", i)
	}
	cases := map[string]struct{ file, want string }{
		"one large anchor, many aliases": {
			"name: amp\ncheckpoints: [a]\nsteps: [{wait: 1s}]\nvariables:\n  big: &big " + big + "\n" + aliases.String(),
			"expands to more than",
		},
		"too many aliases": {
			"name: amp\ncheckpoints: [a]\nsteps: [{wait: 1s}]\nvariables:\n  base: &s small\n" + many.String(),
			"aliases (*name) more than 1000 times",
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if len(c.file) > MaxSize {
				t.Fatalf("the test file is %d bytes, over the file cap: it would not test expansion", len(c.file))
			}
			m, err := Parse([]byte(c.file))
			if err == nil {
				t.Fatalf("Parse accepted it (monitor of %d variables)", len(m.GetVariables()))
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}

	ok := "name: fine\ncheckpoints: [a]\nvariables: {h: &h application/json}\nsteps:\n" +
		"  - request: {url: 'https://e/', headers: {Accept: *h}}\n  - request: {url: 'https://e/b', headers: {Accept: *h}}\n"
	if _, err := Parse([]byte(ok)); err != nil {
		t.Fatalf("a file that uses an alias twice: %v", err)
	}
}
