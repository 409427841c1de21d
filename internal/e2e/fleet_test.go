package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// instance is one lookout-agent process of a checkpoint.
type instance struct {
	name, id string
	proc     *testutil.Proc
}

func startInstance(t *testing.T, c *testutil.Controller, dir, checkpoint, kind, name string) *instance {
	t.Helper()
	_, agentBin := testutil.Binaries(t)
	tok := strings.TrimSpace(c.MustCLI(t, "", "checkpoint", "token", "--name", checkpoint, "--kind", kind))
	p := testutil.Start(t, "agent "+name, agentBin, "--controller", c.Addr, "--token-file", testutil.WriteFile(t, dir, name+".token", []byte(tok)),
		"--state-dir", filepath.Join(dir, "state-"+name), "--ca-file", c.CAFile, "--instance-name", name, "--log-format", "json")
	p.WaitFor(t, name+" to be ready", 30*time.Second, testutil.Contains(`"msg":"agent ready"`))
	id := p.WaitFor(t, name+"'s agent id", time.Second, func(out string) string {
		for line := range strings.SplitSeq(out, "\n") {
			var l struct{ Msg, Agent string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "enrolled" {
				return l.Agent
			}
		}
		return ""
	})
	return &instance{name: name, id: id, proc: p}
}

// TestFleetInstancesAndRevocation runs two agent processes under one checkpoint against a real
// controller process: every run is executed by exactly one of them; when one stops, the other runs
// everything; `checkpoint list` shows each instance; `checkpoint revoke` cuts the survivor off.
func TestFleetInstancesAndRevocation(t *testing.T) {
	dir := t.TempDir()
	var hits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(target.Close)
	c := testutil.StartController(t, filepath.Join(dir, "data"))
	a1 := startInstance(t, c, dir, "site-a", "private", "site-a-1")
	a2 := startInstance(t, c, dir, "site-a", "private", "site-a-2")
	src := fmt.Sprintf("name: ping\ninterval: 1h\ntimeout: 10s\ncheckpoints: [site-a]\nsteps:\n  - name: get\n    request:\n      url: %q\n    assert:\n      - {source: status, comparison: equal, value: \"200\"}\n", target.URL+"/ping")
	c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, dir, "ping.yaml", []byte(src)))

	// runs triggers n runs and returns, for each, the agent its result names.
	runs := func(n int) map[string]string {
		t.Helper()
		by := map[string]string{}
		for range n {
			r := c.CLI(t, "", "run", "ping", "--checkpoint", "site-a", "--wait", "-o", "json", "--timeout", "30s")
			res := &pb.RunResult{}
			if err := protojson.Unmarshal([]byte(r.Stdout), res); err != nil || r.Code != 0 || res.Outcome != pb.Outcome_OUTCOME_PASSED {
				t.Fatalf("run ping: exit %d (%v)\nstdout: %s\nstderr: %s", r.Code, err, r.Stdout, r.Stderr)
			}
			by[res.RunId] = res.AgentId
		}
		return by
	}
	// executions are the runs each instance executed, from its log. The scheduler also runs the
	// monitor once when it is applied, so the target sees that run too.
	executions := func() map[string][]string {
		ex := map[string][]string{}
		for _, in := range []*instance{a1, a2} {
			for line := range strings.SplitSeq(in.proc.Output(), "\n") {
				var l struct {
					Msg   string `json:"msg"`
					RunID string `json:"run_id"`
				}
				if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "run finished" {
					ex[l.RunID] = append(ex[l.RunID], in.id)
				}
			}
		}
		return ex
	}
	check := func(what string, by map[string]string, allowed ...*instance) {
		t.Helper()
		ex := executions()
		total := 0
		for _, who := range ex {
			total += len(who)
		}
		for run, agent := range by {
			ok := false
			for _, in := range allowed {
				ok = ok || agent == in.id
			}
			if !ok || len(ex[run]) != 1 || ex[run][0] != agent {
				t.Errorf("%s: run %s reported by %s was executed by %v, want exactly once, by %v", what, run, agent, ex[run], allowed)
			}
		}
		if int64(total) != hits.Load() {
			t.Errorf("%s: the instances executed %d runs but the target saw %d requests", what, total, hits.Load())
		}
	}

	const n = 12
	by := runs(n)
	count := map[string]int{}
	for _, agent := range by {
		count[agent]++
	}
	t.Logf("sent %d runs: executed by %s %d, by %s %d; target hits %d (with the first scheduled run)", n, a1.name, count[a1.id], a2.name, count[a2.id], hits.Load())
	check("two instances", by, a1, a2)
	for _, in := range []*instance{a1, a2} {
		if strings.Contains(in.proc.Output(), "run not taken") {
			t.Errorf("%s received a run the other instance had claimed (both got it):\n%s", in.name, in.proc.Output())
		}
	}

	list := c.MustCLI(t, "", "checkpoint", "list")
	for _, in := range []*instance{a1, a2} {
		if !strings.Contains(list, in.id) || !strings.Contains(list, in.name) {
			t.Errorf("checkpoint list does not show instance %s (%s):\n%s", in.name, in.id, list)
		}
	}
	if strings.Count(list, "online") != 2 {
		t.Errorf("checkpoint list should show both instances online:\n%s", list)
	}

	// The external NATS configuration lists both instances with their checkpoint's queue group.
	natsConf := c.MustCLI(t, "", "checkpoint", "nats-config")
	for _, in := range []*instance{a1, a2} {
		if !strings.Contains(natsConf, "lookout://agent/"+in.id+"?") || !strings.Contains(natsConf, "_INBOX_"+in.id+".>") {
			t.Errorf("checkpoint nats-config has no user for %s:\n%s", in.name, natsConf)
		}
	}
	if strings.Count(natsConf, " lookout-cp-cp_") != 2 {
		t.Errorf("checkpoint nats-config should allow each instance its checkpoint's queue group:\n%s", natsConf)
	}

	// One instance stops; the other keeps the monitor running.
	a1.proc.Stop()
	check("after "+a1.name+" stopped", runs(n/2), a2)

	// Revocation cuts the survivor off NATS within one heartbeat (10s) and shows in the list.
	if out := c.MustCLI(t, "", "checkpoint", "revoke", "site-a"); !strings.Contains(out, "revoked 2 agent(s)") {
		t.Errorf("checkpoint revoke printed %q", out)
	}
	a2.proc.WaitFor(t, a2.name+" to lose NATS", 10*time.Second, testutil.Contains(`"msg":"NATS disconnected"`))
	// At its next heartbeat the agent learns why and stops, with a status a supervisor can tell
	// from a crash, instead of reconnecting forever.
	testutil.Eventually(t, a2.name+" to stop after it was revoked", 30*time.Second, a2.proc.Exited)
	if code := a2.proc.Cmd.ProcessState.ExitCode(); code != 3 || !strings.Contains(a2.proc.Output(), "revoked by the controller's operator; enroll it again") {
		t.Errorf("%s after revoke: exit status %d (want 3), output:\n%s", a2.name, code, a2.proc.Output())
	}
	if list := c.MustCLI(t, "", "checkpoint", "list"); strings.Count(list, "revoked") != 2 {
		t.Errorf("checkpoint list after revoke should show both instances revoked:\n%s", list)
	}
	if natsConf := c.MustCLI(t, "", "checkpoint", "nats-config"); strings.Contains(natsConf, "lookout://agent/") {
		t.Errorf("checkpoint nats-config still lists revoked agents:\n%s", natsConf)
	}
}
