package cli

import (
	"testing"
	"time"
)

func TestCellKeepsATableRowOnOneLineAndTheTerminalClean(t *testing.T) {
	for in, want := range map[string]string{
		"items=api-user@v1 reused=":   "items=api-user@v1 reused=",
		"line one\n\tline two":        "line one line two",
		"run_\x1b[2J\x1b[Hforged":     `run_\x1b[2J\x1b[Hforged`,
		"bell\a and nul\x00":          `bell\a and nul\x00`,
		"naïve – ünïcode stays as is": "naïve – ünïcode stays as is",
	} {
		if got := cell(in); got != want {
			t.Errorf("cell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"24h":                  now.Add(-24 * time.Hour),
		"90m":                  now.Add(-90 * time.Minute),
		"2026-11-28T08:00:00Z": time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC),
	} {
		if got, err := parseSince(in, now); err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"yesterday", "-1h", "0s", "2026-11-28"} {
		if _, err := parseSince(bad, now); err == nil {
			t.Errorf("parseSince(%q) accepted", bad)
		}
	}
}
