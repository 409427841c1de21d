package cli

import (
	"bytes"
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testEnv is an environment with no LOOKOUT_* variables, whose output the test reads.
func testEnv(stdin string) (Env, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	return Env{Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}, &stdout, &stderr
}

// runCommand finds the command named by args and runs it in env, without a controller.
func runCommand(t *testing.T, env Env, args ...string) error {
	t.Helper()
	c, rest, ok := Find(args)
	if !ok {
		t.Fatalf("no command %q", args)
	}
	return c.Run(t.Context(), env, rest)
}

// TestFindNamesOneOrTwoWords: a command is found by its whole name, one word or two, and the
// words after it are its arguments; a group word alone or a run-together name is no command.
func TestFindNamesOneOrTwoWords(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args     []string
		name     string
		rest     []string
		notFound bool
	}{
		{args: []string{"vault", "list"}, name: "vault list", rest: []string{}},
		{args: []string{"run", "orders", "--wait"}, name: "run", rest: []string{"orders", "--wait"}},
		{args: []string{"results", "tail", "--failed"}, name: "results tail", rest: []string{"--failed"}},
		{args: []string{"audit", "--since", "1h"}, name: "audit", rest: []string{"--since", "1h"}},
		{args: []string{"vault"}, notFound: true},
		{args: []string{"monitor", "--help"}, notFound: true},
		{args: []string{"vaultlist"}, notFound: true},
		{args: []string{"Vault", "list"}, notFound: true},
	} {
		c, rest, ok := Find(tc.args)
		if ok == tc.notFound {
			t.Errorf("Find(%q): found %v, want %v", tc.args, ok, !tc.notFound)
			continue
		}
		if ok && (c.Name != tc.name || !cmp.Equal(rest, tc.rest)) {
			t.Errorf("Find(%q) = %q with %q, want %q with %q", tc.args, c.Name, rest, tc.name, tc.rest)
		}
	}
}

// TestEveryCommandIsFoundByItsName: no command's name is shadowed by another's.
func TestEveryCommandIsFoundByItsName(t *testing.T) {
	t.Parallel()
	for _, want := range Commands() {
		got, rest, ok := Find(append(strings.Fields(want.Name), "x"))
		if !ok || got.Name != want.Name || !cmp.Equal(rest, []string{"x"}) {
			t.Errorf("Find(%q x) = %q, %q, %v", want.Name, got.Name, rest, ok)
		}
	}
}

// TestParseTakesFlagsBeforeAndAfterPositionals: `vault show NAME -o json` and
// `vault show -o json NAME` mean the same.
func TestParseTakesFlagsBeforeAndAfterPositionals(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"a", "-o", "json", "b"},
		{"-o", "json", "a", "b"},
		{"a", "b", "-o=json"},
		{"a", "--o", "json", "b"},
	} {
		env, _, _ := testEnv("")
		fs := newFlags("test", env)
		out := fs.String("o", "text", "")
		pos, err := parse(fs, args)
		if err != nil || *out != "json" || !cmp.Equal(pos, []string{"a", "b"}) {
			t.Errorf("parse(%q) = %q, -o %q, %v; want [a b], -o json", args, pos, *out, err)
		}
	}
}

// TestParseNoneRefusesArguments: a command that takes flags only names the stray word and itself.
func TestParseNoneRefusesArguments(t *testing.T) {
	t.Parallel()
	env, _, _ := testEnv("")
	fs := newFlags("checkpoint list", env)
	fs.String("o", "text", "")
	err := parseNone(fs, []string{"-o", "json", "extra"})
	var usage *UsageError
	if !errors.As(err, &usage) || err.Error() != `unexpected argument "extra": checkpoint list takes flags only (-h lists them)` {
		t.Errorf("parseNone with a stray word: %v (%T), want a UsageError naming it", err, err)
	}
}

// TestParseFlagsMistakes: each mistake is a UsageError that starts with the command, says what was
// wrong in the user's spelling (--long, -f), and prints nothing itself; -h prints the usage.
func TestParseFlagsMistakes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--pasword-file", "x"}, `vault add-certificate: unknown flag --pasword-file (did you mean "--password-file"?); -h lists the flags`},
		{[]string{"-pasword-file", "x"}, `vault add-certificate: unknown flag --pasword-file (did you mean "--password-file"?); -h lists the flags`},
		{[]string{"--zzz"}, `vault add-certificate: unknown flag --zzz; -h lists the flags`},
		{[]string{"-g", "x"}, `vault add-certificate: unknown flag -g (did you mean "-f"?); -h lists the flags`},
		{[]string{"--name"}, `vault add-certificate: flag needs an argument: -name`},
		{[]string{"--password-stdin=maybe"}, `vault add-certificate: invalid boolean value "maybe" for -password-stdin: parse error`},
	} {
		env, stdout, stderr := testEnv("")
		fs := newFlags("vault add-certificate", env)
		fs.String("name", "", "")
		fs.String("file", "", "")
		fs.String("f", "", "")
		fs.String("password-file", "", "")
		fs.Bool("password-stdin", false, "")
		err := ParseFlags(fs, tc.args)
		var usage *UsageError
		if !errors.As(err, &usage) || err.Error() != tc.want {
			t.Errorf("ParseFlags(%q) = %v (%T)\nwant UsageError %q", tc.args, err, err, tc.want)
		}
		if stdout.Len()+stderr.Len() != 0 {
			t.Errorf("ParseFlags(%q) printed %q%q; the caller prints the error once", tc.args, stdout, stderr)
		}
	}
	env, _, stderr := testEnv("")
	fs := newFlags("vault list", env)
	if err := ParseFlags(fs, []string{"-h"}); !errors.Is(err, flag.ErrHelp) || !strings.HasPrefix(stderr.String(), "Usage: lookout-controller vault list [flags]\n\nlist vault items (metadata only)\n") {
		t.Errorf("-h: %v, printed %q; want flag.ErrHelp and the command's usage", err, stderr)
	}
}

// TestUnknownCommandSuggests: the two words typed are matched against every command (and the
// extra names main adds); when they are not close, the first word alone is; a word close to
// nothing gets no guess.
func TestUnknownCommandSuggests(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args  []string
		extra []string
		want  string
	}{
		{[]string{"monitr", "apply", "-f", "x"}, nil, `unknown command "monitr apply -f x" (did you mean "monitor apply"?)`},
		{[]string{"audt", "--since", "24h"}, nil, `unknown command "audt --since 24h" (did you mean "audit"?)`},
		{[]string{"serv", "--data-dir", "d"}, []string{"serve", "dev"}, `unknown command "serv --data-dir d" (did you mean "serve"?)`},
		{[]string{"xyzzy"}, []string{"serve", "dev"}, `unknown command "xyzzy"`},
	} {
		err := UnknownCommand(tc.args, tc.extra...)
		var usage *UsageError
		if !errors.As(err, &usage) || err.Error() != tc.want {
			t.Errorf("UnknownCommand(%q) = %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestFileFlagSpellings: every command that takes a file takes it as -f or --file, with a space or
// =, the same way; without it the command says it is required, as a usage mistake.
func TestFileFlagSpellings(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	for cmd, name := range map[string]string{
		"monitor apply":             "",
		"vault add-certificate":     "partner-cert",
		"vault replace-certificate": "partner-cert",
		"vault add-file":            "body",
		"vault replace-file":        "body",
	} {
		words := strings.Fields(cmd)
		if name != "" {
			words = append(words, name)
		}
		var first string
		for _, spelling := range [][]string{{"-f", missing}, {"--file", missing}, {"-f=" + missing}, {"--file=" + missing}, {"-file", missing}} {
			env, _, _ := testEnv("")
			err := runCommand(t, env, append(words, spelling...)...)
			var usage *UsageError
			if err == nil || errors.As(err, &usage) || !strings.Contains(err.Error(), missing) {
				t.Errorf("%s %q: %v; want the missing file named, not a usage mistake", cmd, spelling, err)
				continue
			}
			if first == "" {
				first = err.Error()
			} else if err.Error() != first {
				t.Errorf("%s %q: %q, but -f said %q: the spellings differ", cmd, spelling, err, first)
			}
		}
		env, _, _ := testEnv("")
		err := runCommand(t, env, words...)
		var usage *UsageError
		if !errors.As(err, &usage) || !strings.Contains(err.Error(), "required") {
			t.Errorf("%s without a file: %v (%T), want a usage mistake saying it is required", cmd, err, err)
		}
	}
}

// TestEveryFileFlagHasBothSpellings: a command whose -h lists -f lists --file too, and the other
// way round, so no command needs its own spelling remembered.
func TestEveryFileFlagHasBothSpellings(t *testing.T) {
	t.Parallel()
	for _, c := range Commands() {
		env, _, stderr := testEnv("")
		if err := c.Run(t.Context(), env, []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s -h: %v, want flag.ErrHelp", c.Name, err)
			continue
		}
		short, long := strings.Contains(stderr.String(), "\n  -f "), strings.Contains(stderr.String(), "\n  -file ")
		if short != long {
			t.Errorf("%s: -f listed %v, --file listed %v; want both or neither:\n%s", c.Name, short, long, stderr)
		}
	}
}
