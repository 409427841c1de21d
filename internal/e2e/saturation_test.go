package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// TestSaturatedAgentSaysSo: an agent started with --max-concurrent-runs 1 runs one slow run and
// holds the next one back; its heartbeat says it is saturated, so `checkpoint list` shows it (with
// the run waiting), and so do the agent's metrics. Once the target answers, both runs finish and
// the saturation goes away.
func TestSaturatedAgentSaysSo(t *testing.T) {
	dir := t.TempDir()
	target, release := heldTarget(t)
	c := testutil.StartController(t, filepath.Join(dir, "data"))
	_, agentBin := testutil.Binaries(t)
	tok := strings.TrimSpace(c.MustCLI(t, "", "checkpoint", "token", "--name", "small-site", "--kind", "private"))
	agentMetrics := freeAddr(t)
	agent := testutil.Start(t, "agent small-site", agentBin, "--controller", c.Addr, "--token-file", testutil.WriteFile(t, dir, "a.token", []byte(tok)),
		"--state-dir", filepath.Join(dir, "agent"), "--ca-file", c.CAFile, "--instance-name", "small-1", "--heartbeat", "1s",
		"--max-concurrent-runs", "1", "--metrics-listen", agentMetrics, "--log-format", "json")
	agent.WaitFor(t, "agent to be ready", 30*time.Second, testutil.Contains(`"msg":"agent ready"`))
	for _, name := range []string{"slow-a", "slow-b"} {
		c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, dir, name+".yaml", []byte(fmt.Sprintf(
			"name: %s\ninterval: 1h\ntimeout: 50s\ncheckpoints: [small-site]\nsteps:\n  - request:\n      url: %q\n", name, target.URL))))
	}

	testutil.Eventually(t, "checkpoint list to show the instance saturated", 20*time.Second, func() bool {
		ag := onlyInstance(t, c)
		return ag.Saturated && ag.RunsInFlight == 1 && ag.MaxConcurrentRuns == 1 && ag.RunsWaiting == 1
	})
	list := c.MustCLI(t, "", "checkpoint", "list")
	for _, want := range []string{"online, saturated", "1/1 +1 waiting"} {
		if !strings.Contains(list, want) {
			t.Errorf("checkpoint list does not show %q:\n%s", want, list)
		}
	}
	if n := metric(t, agentMetrics, "lookout_agent_runs_waiting"); n != 1 {
		t.Errorf("lookout_agent_runs_waiting = %v, want 1", n)
	}
	if n := metric(t, agentMetrics, "lookout_agent_runs_delayed_total"); n != 1 {
		t.Errorf("lookout_agent_runs_delayed_total = %v, want 1", n)
	}

	release()
	testutil.Eventually(t, "the saturation to clear once both runs finished", 20*time.Second, func() bool {
		ag := onlyInstance(t, c)
		return !ag.Saturated && ag.RunsInFlight == 0 && ag.RunsWaiting == 0
	})
	if list := c.MustCLI(t, "", "checkpoint", "list"); strings.Contains(list, "saturated") || !strings.Contains(list, "0/1") {
		t.Errorf("after both runs finished checkpoint list shows:\n%s", list)
	}
	passed := map[string]int{}
	for _, r := range storedResults(t, c) {
		if r.Outcome == pb.Outcome_OUTCOME_PASSED {
			passed[r.MonitorName]++
		}
	}
	if passed["slow-a"] != 1 || passed["slow-b"] != 1 {
		t.Errorf("passed runs by monitor: %v, want one each of slow-a and slow-b (the one that waited ran too)", passed)
	}
}

// onlyInstance is the one agent instance `checkpoint list -o json` shows.
func onlyInstance(t *testing.T, c *testutil.Controller) *pb.AgentInstance {
	t.Helper()
	resp := &pb.ListCheckpointsResponse{}
	if err := protojson.Unmarshal([]byte(c.MustCLI(t, "", "checkpoint", "list", "-o", "json")), resp); err != nil {
		t.Fatal(err)
	}
	for _, cp := range resp.Checkpoints {
		for _, ag := range cp.Agents {
			return ag
		}
	}
	t.Fatal("no instance listed")
	return nil
}
