package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lookout-synthetics/lookout/internal/testutil"
)

var devAgentStarted = regexp.MustCompile(`agent for checkpoint \S+ started \(pid (\d+),`)

// running says whether pid is a live process (not gone, not a zombie waiting to be reaped).
func running(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
	return !strings.HasPrefix(strings.TrimSpace(rest), "Z")
}

// TestDevAgentsEndWithDev: the agents `lookout-controller dev` starts do not outlive it, even when
// dev is killed (kill -9, or a supervisor giving up on a slow stop): they would keep calling a
// controller that is gone.
func TestDevAgentsEndWithDev(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc to see the agents' state")
	}
	ctrl, agent := testutil.Binaries(t)
	p := testutil.Start(t, "dev", ctrl, "dev", "--duration", "5m", "--agent-bin", agent,
		"--examples", filepath.Join("..", "..", "deploy", "examples"))
	p.WaitFor(t, "the demo to be up", 90*time.Second, testutil.Contains("results (Ctrl-C to stop)"))
	var pids []int
	for _, m := range devAgentStarted.FindAllStringSubmatch(p.Output(), -1) {
		pid, _ := strconv.Atoi(m[1])
		pids = append(pids, pid)
	}
	if len(pids) < 2 {
		t.Fatalf("dev started %d agents, want its public and private ones:\n%s", len(pids), p.Output())
	}
	for _, pid := range pids {
		if !running(pid) {
			t.Fatalf("agent %d is not running while dev is", pid)
		}
	}
	if err := p.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "dev's agents to end after dev was killed", 30*time.Second, func() bool {
		for _, pid := range pids {
			if running(pid) {
				return false
			}
		}
		return true
	})
}
