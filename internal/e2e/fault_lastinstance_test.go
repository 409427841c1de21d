package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// TestRunEndsWhenTheLastInstanceDies (issue 19, DESIGN §6): the only instance of a checkpoint is
// killed (SIGKILL) while its run waits on a slow target. With no live instance left to hand the
// run to, the run ends once the instance has missed an online window of heartbeats, well before
// its deadline, saying no instance of the checkpoint is live and when one was last seen.
func TestRunEndsWhenTheLastInstanceDies(t *testing.T) {
	dir := t.TempDir()
	arrived := make(chan struct{}, 8)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	}))
	t.Cleanup(target.Close)
	c := testutil.StartController(t, filepath.Join(dir, "data"))
	a := startInstance(t, c, dir, "site-l", "private", "site-l-1")
	c.MustCLI(t, "", "monitor", "apply", "--paused", "-f", testutil.WriteFile(t, dir, "m.yaml", []byte(fmt.Sprintf(
		"name: slow-target\ninterval: 1h\ntimeout: 10m\ncheckpoints: [site-l]\nsteps:\n  - request:\n      url: %q\n", target.URL))))
	runID, _, _ := strings.Cut(strings.TrimSpace(c.MustCLI(t, "", "run", "slow-target")), "\t")
	select {
	case <-arrived: // the run is claimed and in its step
	case <-time.After(30 * time.Second):
		t.Fatal("the run never reached the target")
	}
	if err := a.proc.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}

	run := &pb.Run{}
	testutil.Eventually(t, "the run of the killed instance to end", 3*time.Minute, func() bool {
		out := c.MustCLI(t, "", "results", "show", runID, "-o", "json")
		if err := protojson.Unmarshal([]byte(out), run); err != nil {
			t.Fatalf("results show %s -o json: %v\n%s", runID, err, out)
		}
		return run.State == pb.RunState_RUN_STATE_DONE
	})
	res := run.Result
	for _, w := range []string{`no live instance of checkpoint "site-l"`, "last seen", a.id} {
		if !strings.Contains(res.Message, w) {
			t.Errorf("the run ended with %q; want it to say %q", res.Message, w)
		}
	}
	if !res.FinishedAt.AsTime().Before(run.Deadline.AsTime()) {
		t.Errorf("the run ended at %v, not before its deadline %v", res.FinishedAt.AsTime(), run.Deadline.AsTime())
	}
	t.Logf("ended %v after it started, %v before its deadline: %s", res.FinishedAt.AsTime().Sub(res.StartedAt.AsTime()).Round(time.Second),
		run.Deadline.AsTime().Sub(res.FinishedAt.AsTime()).Round(time.Second), res.Message)
}
