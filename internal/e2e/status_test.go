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

// TestInstanceStatusShowsLoad: heartbeats carry an instance's load, so `checkpoint list` shows a
// run in flight while a slow step runs and none after; the metrics count the instance online.
func TestInstanceStatusShowsLoad(t *testing.T) {
	dir := t.TempDir()
	target, release := heldTarget(t)
	metricsAddr := freeAddr(t)
	c := testutil.StartController(t, filepath.Join(dir, "data"), "--metrics-listen", metricsAddr)
	_, agentBin := testutil.Binaries(t)
	tok := strings.TrimSpace(c.MustCLI(t, "", "checkpoint", "token", "--name", "busy-site", "--kind", "private"))
	agent := testutil.Start(t, "agent busy-site", agentBin, "--controller", c.Addr, "--token-file", testutil.WriteFile(t, dir, "a.token", []byte(tok)),
		"--state-dir", filepath.Join(dir, "agent"), "--ca-file", c.CAFile, "--instance-name", "busy-1", "--heartbeat", "1s", "--log-format", "json")
	agent.WaitFor(t, "agent to be ready", 30*time.Second, testutil.Contains(`"msg":"agent ready"`))
	c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, dir, "slow.yaml", []byte(fmt.Sprintf(
		"name: slow\ninterval: 1h\ntimeout: 30s\ncheckpoints: [busy-site]\nsteps:\n  - request:\n      url: %q\n", target.URL))))

	inFlight := func() int32 {
		t.Helper()
		resp := &pb.ListCheckpointsResponse{}
		if err := protojson.Unmarshal([]byte(c.MustCLI(t, "", "checkpoint", "list", "-o", "json")), resp); err != nil {
			t.Fatal(err)
		}
		for _, cp := range resp.Checkpoints {
			for _, ag := range cp.Agents {
				return ag.RunsInFlight
			}
		}
		t.Fatal("no instance listed")
		return 0
	}
	// The monitor's first scheduled run is now blocked on the target.
	testutil.Eventually(t, "checkpoint list to show the blocked run in flight", 20*time.Second, func() bool { return inFlight() == 1 })
	list := c.MustCLI(t, "", "checkpoint", "list")
	for _, want := range []string{"IN FLIGHT", "busy-1", "online", " ago", "(29d)"} {
		if !strings.Contains(list, want) {
			t.Errorf("checkpoint list does not show %q:\n%s", want, list)
		}
	}
	if n := metricWithLabels(t, metricsAddr, `lookout_checkpoint_instances{checkpoint="busy-site",kind="private",state="online"}`); n != 1 {
		t.Errorf("lookout_checkpoint_instances online = %v, want 1", n)
	}
	release()
	testutil.Eventually(t, "checkpoint list to show no run in flight after it finished", 20*time.Second, func() bool { return inFlight() == 0 })
}
