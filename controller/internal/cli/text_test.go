package cli

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

func TestOneLineKeepsARowOnOneLineAndTheTerminalClean(t *testing.T) {
	for in, want := range map[string]string{
		"items=api-user@v1 reused=":   "items=api-user@v1 reused=",
		"line one\n\tline two":        "line one line two",
		"run_\x1b[2J\x1b[Hforged":     `run_\x1b[2J\x1b[Hforged`,
		"bell\a and nul\x00":          `bell\a and nul\x00`,
		"naïve – ünïcode stays as is": "naïve – ünïcode stays as is",
	} {
		if got := oneLine(in); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
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

// TestResultLinesKeepOthersTextInItsPlace: a result's message, a step's error and a failed
// assertion's message come from agents and from the monitored API's answer; printed by `run` and
// `results tail`, none of it may move the cursor or clear the screen, nor break the line layout.
func TestResultLinesKeepOthersTextInItsPlace(t *testing.T) {
	res := &pb.RunResult{Outcome: pb.Outcome_OUTCOME_FAILED, MonitorName: "orders", CheckpointName: "paris",
		Message: "step 1 failed:\x1b[2J body said\nhello", StartedAt: timestamppb.Now(), FinishedAt: timestamppb.Now(),
		Steps: []*pb.StepResult{{Name: "login", Method: "GET", Url: "https://api.test/\x1b[H", Error: "read: \x07reset",
			Assertions: []*pb.AssertionResult{{Passed: false, Message: "expected 200, body \x1b]0;owned\x07"}}}}}
	var out strings.Builder
	printResult(&out, res, false)
	got := out.String()
	if strings.ContainsAny(got, "\x1b\x07") {
		t.Errorf("control characters reached the output:\n%q", got)
	}
	for _, want := range []string{`failed:\x1b[2J body said hello`, `https://api.test/\x1b[H`, `read: \areset`, `body \x1b]0;owned\a`} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if lines := strings.Count(got, "\n"); lines != 3 { // the result, its failed step, the assertion
		t.Errorf("%d lines, want 3:\n%s", lines, got)
	}
}
