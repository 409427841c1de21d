package main

import (
	"io"
	"strings"
	"testing"
)

// An instance name the controller would refuse at enrollment is refused at start, in words that
// name the flag.
func TestInstanceNameIsCheckedAtStart(t *testing.T) {
	base := []string{"--controller", "127.0.0.1:1", "--state-dir", t.TempDir()}
	for _, bad := range []string{"box\x1b[2J", strings.Repeat("a", 65), "naïve"} {
		_, err := parseFlags(append(base, "--instance-name", bad), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--instance-name") {
			t.Errorf("--instance-name %q: %v, want a refusal naming the flag", bad, err)
		}
	}
	if _, err := parseFlags(append(base, "--instance-name", "site-a-1"), io.Discard); err != nil {
		t.Errorf("--instance-name site-a-1: %v", err)
	}
}
