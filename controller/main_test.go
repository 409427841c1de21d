package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/lookout-synthetics/lookout/controller/internal/cli"
)

// TestCommandLineMistakesExitTwo: every mistake in the command line itself (unknown command, bad
// flag, missing value, missing name) exits 2 with a message on stderr, before anything is dialled,
// so scripts can tell a typo from a failure of the controller (exit 1).
func TestCommandLineMistakesExitTwo(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"no-such-command"},
		{"vault", "bogus"},
		{"monitor", "apply"},
		{"monitor", "apply", "-f"},
		{"monitor", "list", "--no-such-flag"},
		{"run"},
		{"vault", "add-certificate", "--name"},
		{"vault", "add-certificate", "a", "b", "--file", "x.p12"},
		{"vault", "add-credentials", "api-user"},
		{"results", "tail", "orders"},
		{"checkpoint", "list", "extra"},
		{"monitor", "apply", "-f", "x.json", "--format", "uptrend"},
		{"monitor", "apply", "-f", "x.yaml", "--dry-run"},
		{"monitor", "apply", "-f", "x.json", "--format", "uptrends", "--bind", "no-equals-sign"},
	} {
		var stdout, stderr bytes.Buffer
		env := cli.Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
		code := exitCode(run(context.Background(), args, env), &stderr)
		if code != 2 {
			t.Errorf("%q: exit code %d, want 2\nstderr: %s", args, code, stderr.String())
		}
		if stderr.Len() == 0 {
			t.Errorf("%q: nothing on stderr", args)
		}
	}
}

// TestCommandLineMistakesSayWhatWasMeant: a mistake prints its error once, first, with the
// closest command or flag, and not the whole help.
func TestCommandLineMistakesSayWhatWasMeant(t *testing.T) {
	for args, want := range map[string]string{
		"monitr apply":                        `lookout-controller: unknown command "monitr apply" (did you mean "monitor apply"?)`,
		"vault lst":                           `lookout-controller: unknown command "vault lst" (did you mean "vault list"?)`,
		"monitor apply --fromat uptrends":     `lookout-controller: monitor apply: unknown flag --fromat (did you mean "--format"?)`,
		"vault add-certificate -pasword-file": `lookout-controller: vault add-certificate: unknown flag --pasword-file (did you mean "--password-file"?)`,
		"serve --data-dri d":                  `lookout-controller: serve: unknown flag --data-dri (did you mean "--data-dir"?)`,
	} {
		var stdout, stderr bytes.Buffer
		env := cli.Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
		code := exitCode(run(context.Background(), strings.Fields(args), env), &stderr)
		out := stderr.String()
		if code != 2 || !strings.HasPrefix(out, want) {
			t.Errorf("%s: exit %d, stderr does not start with %q:\n%s", args, code, want, out)
		}
		if strings.Count(out, "unknown") != 1 || strings.Contains(out, "Admin commands") || strings.Contains(out, "-addr") {
			t.Errorf("%s: want the error once and no help text:\n%s", args, out)
		}
	}
}

// TestCommandHelp: -h says what the command takes, positional words included, and exits 0.
func TestCommandHelp(t *testing.T) {
	for args, want := range map[string]string{
		"monitor show -h":     "Usage: lookout-controller monitor show NAME [flags]",
		"run -h":              "Usage: lookout-controller run MONITOR [flags]",
		"vault list -h":       "Usage: lookout-controller vault list [flags]",
		"results tail --help": "stream results as they arrive",
	} {
		var stdout, stderr bytes.Buffer
		env := cli.Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
		code := exitCode(run(context.Background(), strings.Fields(args), env), &stderr)
		if code != 0 || !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "-addr") {
			t.Errorf("%s: exit %d, want 0 and %q with the flags\n%s", args, code, want, stderr.String())
		}
	}
}

// TestTuneGC: the controller's own GC target applies only when the environment sets no GOGC.
func TestTuneGC(t *testing.T) {
	orig := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(orig) })
	tuneGC(func(string) string { return "" })
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Errorf("with GOGC unset the GC target is %d, want %d", got, defaultGCPercent)
	}
	debug.SetGCPercent(150) // what the runtime would have applied from the operator's GOGC
	tuneGC(func(k string) string {
		if k == "GOGC" {
			return "150"
		}
		return ""
	})
	if got := debug.SetGCPercent(100); got != 150 {
		t.Errorf("with GOGC=150 set the GC target became %d; the operator's value must win", got)
	}
}

// TestExitCodes: 0 for success and for -h, 2 for a mistake in the command line (with the hint to
// run help), 3 for a run --wait whose --timeout ended before the run, 1 for a run that did not pass (its result is already printed) and for any other
// failure, printed once with the program's name.
func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		err    error
		code   int
		stderr string
	}{
		{nil, 0, ""},
		{flag.ErrHelp, 0, ""},
		{fmt.Errorf("run orders: %w", cli.ErrRunFailed), 1, ""},
		{fmt.Errorf("run run_1 still running after 2s (--timeout): %w", cli.ErrStillRunning), 3, "lookout-controller: run run_1 still running after 2s (--timeout): " + cli.ErrStillRunning.Error() + "\n"},
		{&cli.UsageError{Msg: "no command given"}, 2, "lookout-controller: no command given\nRun 'lookout-controller help' for usage.\n"},
		{fmt.Errorf("wrapped: %w", &cli.UsageError{Msg: "bad"}), 2, "lookout-controller: wrapped: bad\nRun 'lookout-controller help' for usage.\n"},
		{errors.New("cannot reach the controller"), 1, "lookout-controller: cannot reach the controller\n"},
	} {
		var stderr bytes.Buffer
		if code := exitCode(tc.err, &stderr); code != tc.code || stderr.String() != tc.stderr {
			t.Errorf("exitCode(%v) = %d, printed %q; want %d, %q", tc.err, code, stderr.String(), tc.code, tc.stderr)
		}
	}
}

// TestFailureOfTheControllerExitsOne: a well-formed command that cannot get to a controller (here:
// no admin token) exits 1, not 2, and does not print the usage hint.
func TestFailureOfTheControllerExitsOne(t *testing.T) {
	var stdout, stderr bytes.Buffer
	env := cli.Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
	code := exitCode(run(context.Background(), []string{"monitor", "list"}, env), &stderr)
	if code != 1 || !strings.HasPrefix(stderr.String(), "lookout-controller: no admin token") || strings.Contains(stderr.String(), "for usage") {
		t.Errorf("monitor list without a token: exit %d\n%s", code, stderr.String())
	}
}

// TestAlertRetentionFlag: serve takes --alert-retention (default 400 days, shown in its help) and
// refuses a value below a second before it starts anything.
func TestAlertRetentionFlag(t *testing.T) {
	for args, want := range map[string]string{
		"serve --data-dir d --alert-retention 500ms": "serve: --alert-retention must be 0 (keep forever) or at least 1s, got 500ms",
		"serve --data-dir d --alert-retention -1h":   "serve: --alert-retention must be 0 (keep forever) or at least 1s, got -1h0m0s",
		"serve --alert-retension 1h":                 `unknown flag --alert-retension (did you mean "--alert-retention"?)`,
	} {
		var stdout, stderr bytes.Buffer
		env := cli.Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
		if code := exitCode(run(context.Background(), strings.Fields(args), env), &stderr); code != 2 || !strings.Contains(stderr.String(), want) {
			t.Errorf("%s: exit %d, want 2 and %q:\n%s", args, code, want, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	env := cli.Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
	exitCode(run(context.Background(), []string{"serve", "-h"}, env), &stderr)
	if help := stderr.String(); !regexp.MustCompile(`-alert-retention duration\n[^\n]*\(default 9600h0m0s\)`).MatchString(help) {
		t.Errorf("serve -h does not show --alert-retention with its 400-day default:\n%s", help)
	}
}
