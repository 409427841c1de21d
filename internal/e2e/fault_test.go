package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// freeAddr picks a loopback port for a process that must come back on the same address.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// storedResults reads every stored result (results tail --from-start), stopping after a quiet
// period bounded by the context: the stream never ends on its own.
func storedResults(t *testing.T, c *testutil.Controller) []*pb.RunResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Bin, "results", "tail", "--from-start", "-o", "json")
	cmd.Env = append(os.Environ(), "LOOKOUT_ADDR="+c.Addr, "LOOKOUT_TOKEN_FILE="+c.TokenFile, "LOOKOUT_CA_FILE="+c.CAFile)
	var out bytes.Buffer
	cmd.Stdout = &out
	_ = cmd.Run()
	var got []*pb.RunResult
	dec := json.NewDecoder(&out)
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatalf("results tail output: %v\n%s", err, out.String())
		}
		res := &pb.RunResult{}
		if err := protojson.Unmarshal(raw, res); err != nil {
			t.Fatalf("results tail output: %v\n%s", err, raw)
		}
		got = append(got, res)
	}
	return got
}

// TestControllerDownWhileRunsFinish kills the controller (SIGKILL) while an agent executes N runs,
// lets the runs finish while it is down, kills the agent too (so only its bbolt spool holds the
// results), restarts both on the same data and state dirs, and checks that exactly N results are
// stored: none lost, none twice.
func TestControllerDownWhileRunsFinish(t *testing.T) {
	const n = 4
	dir := t.TempDir()
	var hits atomic.Int64
	release := make(chan struct{})
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		select {
		case <-release:
		case <-time.After(20 * time.Second):
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(target.Close)
	grpcAddr, natsAddr := freeAddr(t), freeAddr(t)
	data := filepath.Join(dir, "data")
	flags := []string{"--grpc-listen", grpcAddr, "--nats-listen", natsAddr}
	c := testutil.StartController(t, data, flags...)
	a := startInstance(t, c, dir, "site-f", "private", "site-f-1")
	src := fmt.Sprintf("name: slow\ninterval: 1h\ntimeout: 40s\ncheckpoints: [site-f]\nsteps:\n  - name: get\n    request:\n      url: %q\n    assert:\n      - {source: status, comparison: equal, value: \"200\"}\n", target.URL+"/slow")
	c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, dir, "slow.yaml", []byte(src)))
	// Applying runs the monitor once; trigger the rest.
	for range n - 1 {
		c.MustCLI(t, "", "run", "slow", "--checkpoint", "site-f")
	}
	testutil.EventuallyValue(t, "the target to see every run", 30*time.Second, func() (int64, error) {
		if h := hits.Load(); h < n {
			return h, fmt.Errorf("the target saw %d of %d runs", h, n)
		}
		return n, nil
	})

	if err := c.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the killed controller to exit", 5*time.Second, c.Exited)
	close(release)
	// Every run finishes while the controller is down; its result goes to the spool and the first
	// report fails.
	a.proc.WaitFor(t, "the runs to finish", 30*time.Second, func(out string) string {
		if strings.Count(out, `"msg":"the controller did not take the run's result; retrying"`) >= n {
			return "ok"
		}
		return ""
	})
	// Kill the agent as well: from here only its spool can bring the results to the controller.
	if err := a.proc.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the killed agent to exit", 5*time.Second, a.proc.Exited)

	c = testutil.StartController(t, data, flags...)
	_, agentBin := testutil.Binaries(t)
	p := testutil.Start(t, "agent site-f-1 (restarted)", agentBin, "--state-dir", filepath.Join(dir, "state-site-f-1"),
		"--instance-name", "site-f-1", "--log-format", "json")
	reported := func(out string) int {
		k := 0
		for line := range strings.SplitSeq(out, "\n") {
			var l struct{ Msg string }
			if json.Unmarshal([]byte(line), &l) == nil && (l.Msg == "run reported" || l.Msg == "spooled result reported") {
				k++
			}
		}
		return k
	}
	if k := reported(a.proc.Output()); k != 0 {
		t.Fatalf("the first agent reported %d results while the controller was down", k)
	}
	p.WaitFor(t, "the restarted agent to replay every result", 60*time.Second, func(out string) string {
		if reported(out) >= n {
			return "ok"
		}
		return ""
	})
	// The runs in flight at the kill; the restarted controller may start new ones of its own.
	inFlight := map[string]bool{}
	for line := range strings.SplitSeq(a.proc.Output(), "\n") {
		var l struct {
			Msg   string
			RunID string `json:"run_id"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "run finished" {
			inFlight[l.RunID] = true
		}
	}
	if len(inFlight) != n {
		t.Fatalf("the agent finished %d runs before its kill, want %d", len(inFlight), n)
	}
	got := storedResults(t, c)
	byRun := map[string]int{}
	stored := 0
	for _, r := range got {
		if !inFlight[r.RunId] {
			continue
		}
		stored++
		byRun[r.RunId]++
		if r.Outcome != pb.Outcome_OUTCOME_PASSED || r.AgentId != a.id {
			t.Errorf("result of run %s: outcome %v by %q, want passed by %s: %s", r.RunId, r.Outcome, r.AgentId, a.id, r.Message)
		}
	}
	t.Logf("sent %d, executed %d, replayed %d, stored %d, lost %d", n, len(inFlight), strings.Count(p.Output(), `"msg":"spooled result reported"`), stored, n-len(byRun))
	if stored != n || len(byRun) != n {
		t.Fatalf("stored %d results for %d of the %d runs, want exactly one each (lost = %d)", stored, len(byRun), n, n-len(byRun))
	}

	// After a kill -9 and a restart, the database file is consistent.
	p.Stop()
	c.Stop()
	db, err := bolt.Open(filepath.Join(data, "lookout.db"), 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	}); err != nil {
		t.Fatalf("bbolt consistency check: %v", err)
	}
}
