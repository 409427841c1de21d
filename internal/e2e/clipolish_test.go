package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// TestCLIMessagesForPeople: what the operator sees when a file or a command is
// wrong names the field and the fix, and carries no gRPC code word.
func TestCLIMessagesForPeople(t *testing.T) {
	dir := t.TempDir()
	c := testutil.StartController(t, filepath.Join(dir, "data"))
	c.MustCLI(t, "", "checkpoint", "token", "--name", "site", "--kind", "private")
	apply := func(t *testing.T, src string) testutil.CLIResult {
		t.Helper()
		return c.CLI(t, "", "monitor", "apply", "--file", testutil.WriteFile(t, t.TempDir(), "m.yaml", []byte(src)))
	}

	t.Run("an undefined variable is refused with its path", func(t *testing.T) {
		r := apply(t, `name: vars
checkpoints: [site]
variables: {base: "http://127.0.0.1:9"}
steps:
  - request: {url: "{{base}}/a", headers: {Authorization: "Bearer {{tokn}}"}}
    extract: [{name: token, from: json, path: $.t}]
  - request: {url: "{{base}}/b?t={{token}}"}
`)
		want := `steps[0].request.headers.Authorization: {{tokn}} is not defined`
		if r.Code == 0 || !strings.Contains(r.Stderr, want) || !strings.Contains(r.Stderr, `(did you mean "token"?)`) {
			t.Errorf("apply: exit %d, want an error with %q and a suggestion:\n%s", r.Code, want, r.Stderr)
		}
		if strings.Contains(r.Stderr, "(invalidargument)") {
			t.Errorf("the message carries a gRPC code word:\n%s", r.Stderr)
		}
	})

	t.Run("a misspelt word gets a suggestion", func(t *testing.T) {
		r := apply(t, `name: typo
checkpoints: [site]
steps:
  - request: {url: "http://127.0.0.1:9/"}
    assert: [{source: status, comparison: equals, value: "200"}]
`)
		if r.Code == 0 || !strings.Contains(r.Stderr, `"equals" is not one of`) || !strings.Contains(r.Stderr, `(did you mean "equal"?)`) {
			t.Errorf("apply: exit %d, want a did-you-mean for equals:\n%s", r.Code, r.Stderr)
		}
	})

	t.Run("--file works like -f", func(t *testing.T) {
		r := apply(t, "name: ok\ncheckpoints: [site]\nsteps: [{wait: 1s}]\n")
		if r.Code != 0 || !strings.Contains(r.Stdout, "monitor ok created") {
			t.Errorf("apply --file: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
		}
	})

	t.Run("an archive refused without a password says how to give one", func(t *testing.T) {
		ca := testutil.NewCA(t, "hint CA")
		archive := ca.Issue(t, "hint-client", false).PKCS12(t, ca, "s3cret")
		r := c.CLI(t, "", "vault", "add-certificate", "--name", "hinted", "--file", testutil.WriteFile(t, dir, "h.p12", archive))
		if r.Code == 0 || !strings.Contains(r.Stderr, "--password-file FILE or --password-stdin") {
			t.Errorf("add-certificate without a password: exit %d\n%s", r.Code, r.Stderr)
		}
	})
}
