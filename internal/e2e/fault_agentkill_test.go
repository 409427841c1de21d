package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// TestAgentKilledDuringASlowStep: the only instance of a checkpoint is killed (SIGKILL) while a
// step waits on a slow target. The run ends once, as "agent lost", at its deadline; the agent,
// restarted on its state dir, has nothing to replay and sends nothing for it; the next run passes.
func TestAgentKilledDuringASlowStep(t *testing.T) {
	dir := t.TempDir()
	var slow atomic.Bool
	slow.Store(true)
	arrived := make(chan struct{}, 8)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slow.Load() {
			arrived <- struct{}{}
			select {
			case <-r.Context().Done():
			case <-time.After(30 * time.Second):
			}
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(target.Close)
	c := testutil.StartController(t, filepath.Join(dir, "data"))
	a := startInstance(t, c, dir, "site-k", "private", "site-k-1")
	c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, dir, "m.yaml", []byte(fmt.Sprintf(
		"name: slow-step\ninterval: 1h\ntimeout: 3s\ncheckpoints: [site-k]\nsteps:\n  - request:\n      url: %q\n", target.URL))))
	select {
	case <-arrived: // the scheduled first run is in its step
	case <-time.After(30 * time.Second):
		t.Fatal("the first run never reached the target")
	}
	if err := a.proc.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the killed agent to exit", 5*time.Second, a.proc.Exited)
	slow.Store(false)

	lost := testutil.EventuallyValue(t, "the run of the killed agent to end", 40*time.Second, func() (*pb.RunResult, error) {
		var lost *pb.RunResult
		for _, res := range storedResults(t, c) {
			if res.ErrorClass == pb.ErrorClass_ERROR_CLASS_AGENT_LOST {
				lost = res
			}
		}
		if lost == nil {
			return nil, errors.New("no stored result says agent lost")
		}
		return lost, nil
	})
	if !strings.Contains(lost.Message, "agent lost") || !strings.Contains(lost.Message, a.id) {
		t.Errorf("the run ended with %q; want agent lost, naming the agent", lost.Message)
	}

	_, agentBin := testutil.Binaries(t)
	p := testutil.Start(t, "agent site-k-1 (restarted)", agentBin, "--state-dir", filepath.Join(dir, "state-site-k-1"),
		"--instance-name", "site-k-1", "--log-format", "json")
	p.WaitFor(t, "the restarted agent to be ready", 30*time.Second, testutil.Contains(`"msg":"agent ready"`))
	if r := c.CLI(t, "", "run", "slow-step", "--wait", "--timeout", "60s"); r.Code != 0 {
		t.Fatalf("a run after the restart: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	results := storedResults(t, c)
	sent, perRun := 2, map[string]int{}
	for _, res := range results {
		perRun[res.RunId]++
	}
	stored := len(results)
	t.Logf("sent %d runs; stored %d results (%d agent lost); lost 0", sent, stored, 1)
	if stored != sent || perRun[lost.RunId] != 1 {
		t.Errorf("stored %d results for %d runs (%d for the killed run): a run lost or reported twice\n%v", stored, sent, perRun[lost.RunId], results)
	}
	if strings.Contains(p.Output(), lost.RunId) {
		t.Errorf("the restarted agent did something with the lost run %s:\n%s", lost.RunId, p.Output())
	}
}
