//go:build docker

package dockertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/pki"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

type suite struct {
	root, state, tag, project, port, cli string
	env                                  []string
}

func moduleRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func run(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func must(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	out, err := run(t, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// setUp builds the binaries and images and starts the controller and the target.
func setUp(t *testing.T) *suite {
	if out, err := exec.Command("docker", "info").CombinedOutput(); err != nil {
		t.Skipf("docker info failed, so the Docker suite cannot run here: %v\n%s", err, out)
	}
	s := &suite{root: moduleRoot(t), state: t.TempDir(), tag: fmt.Sprintf("t%d", time.Now().UnixNano()), port: freePort(t)}
	s.project = "lookout" + s.tag
	s.env = []string{"TAG=" + s.tag, "GRPC_PORT=" + s.port, "STATE=" + s.state, "COMPOSE_PROJECT_NAME=" + s.project}
	bins := t.TempDir()
	for _, img := range []struct{ name, pkg string }{{"controller", "./controller"}, {"agent", "./agent"}, {"target", "./deploy/docker/target"},
		{"nats", "github.com/nats-io/nats-server/v2"}} {
		ctxDir := filepath.Join(bins, img.name)
		if err := os.MkdirAll(ctxDir, 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := run(t, []string{"CGO_ENABLED=0"}, "go", "build", "-C", s.root, "-trimpath", "-o", filepath.Join(ctxDir, "app"), img.pkg)
		if err != nil {
			t.Fatalf("building %s: %v\n%s", img.pkg, err, out)
		}
		bundle, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
		if err != nil {
			bundle = nil // the images only need it for public CAs; the suite's TLS uses the internal CA
		}
		if err := os.WriteFile(filepath.Join(ctxDir, "ca-certificates.crt"), bundle, 0o644); err != nil {
			t.Fatal(err)
		}
		must(t, nil, "docker", "build", "-q", "-t", "lookout-"+img.name+":"+s.tag, "-f", filepath.Join(s.root, "deploy/docker/Dockerfile"), ctxDir)
		name := "lookout-" + img.name + ":" + s.tag
		t.Cleanup(func() { _, _ = run(t, nil, "docker", "rmi", "-f", name) })
	}
	s.cli = filepath.Join(bins, "controller", "app")
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := s.compose(t, "logs", "--no-color", "--tail", "60")
			t.Logf("compose logs:\n%s", out)
		}
		_, _ = s.compose(t, "down", "-v", "--remove-orphans", "-t", "5")
	})
	s.writeNATSConfig(t, "")
	s.mustCompose(t, "up", "-d", "nats-1", "nats-2", "nats-3", "target")
	s.mustCompose(t, "up", "-d", "controller")
	testutil.EventuallyValue(t, "the controller container to come up", 60*time.Second, func() (string, error) {
		if _, err := os.Stat(filepath.Join(s.state, "controller", "admin.token")); err != nil {
			return "", err
		}
		out, err := s.lookout(t, "checkpoint", "list")
		if err != nil {
			return "", fmt.Errorf("checkpoint list: %v\n%s", err, out)
		}
		return out, nil
	})
	return s
}

// writeNATSConfig writes nats-1.conf … nats-3.conf into the shared state dir, as
// docs/external-nats.md describes: TLS with the controller's internal CA mapping client
// certificates to users, routes between the nodes, and authz (the controller's user alone when
// empty; later what `checkpoint nats-config` prints). The first call creates the CA the
// controller then adopts, and the nodes' certificate.
func (s *suite) writeNATSConfig(t *testing.T, authz string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(s.state, "nats.pem")); err != nil {
		testutil.ControllerCAServerPEM(t, filepath.Join(s.state, "controller"), s.state, "nats", "nats-1", "nats-2", "nats-3")
	}
	if authz == "" {
		authz = fmt.Sprintf("authorization {\n  users = [\n    { user: %q, permissions: { publish: { allow: [\"lookout.run.*\"] }, subscribe: { deny: [\">\"] } } }\n  ]\n}\n", pki.ControllerURI)
	}
	for i := 1; i <= 3; i++ {
		var routes []string
		for j := 1; j <= 3; j++ {
			if j != i {
				routes = append(routes, fmt.Sprintf("%q", fmt.Sprintf("nats-route://nats-%d:6222", j)))
			}
		}
		conf := "listen: \"0.0.0.0:4222\"\n" +
			"tls {\n  cert_file: \"/state/nats.pem\"\n  key_file: \"/state/nats.key\"\n  ca_file: \"/state/controller/ca.pem\"\n  verify_and_map: true\n  timeout: 5\n}\n" +
			fmt.Sprintf("cluster {\n  name: lookout\n  listen: \"0.0.0.0:6222\"\n  routes: [%s]\n}\n", strings.Join(routes, ", ")) + authz
		if err := os.WriteFile(filepath.Join(s.state, fmt.Sprintf("nats-%d.conf", i)), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (s *suite) compose(t *testing.T, args ...string) (string, error) {
	return run(t, s.env, "docker-compose", append([]string{"-f", filepath.Join(s.root, "deploy/docker/docker-compose.yml")}, args...)...)
}

func (s *suite) mustCompose(t *testing.T, args ...string) string {
	t.Helper()
	out, err := s.compose(t, args...)
	if err != nil {
		t.Fatalf("docker-compose %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// lookout runs the admin CLI on the host against the controller's published port.
func (s *suite) lookout(t *testing.T, args ...string) (string, error) {
	return run(t, []string{"LOOKOUT_ADDR=127.0.0.1:" + s.port, "LOOKOUT_TOKEN_FILE=" + filepath.Join(s.state, "controller", "admin.token"),
		"LOOKOUT_CA_FILE=" + filepath.Join(s.state, "controller", "ca.pem")}, s.cli, args...)
}

func (s *suite) mustLookout(t *testing.T, args ...string) string {
	t.Helper()
	out, err := s.lookout(t, args...)
	if err != nil {
		t.Fatalf("lookout-controller %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (s *suite) result(t *testing.T, monitor, checkpoint string) *pb.RunResult {
	t.Helper()
	out, _ := s.lookout(t, "run", monitor, "--checkpoint", checkpoint, "--wait", "-o", "json", "--timeout", "90s")
	res := &pb.RunResult{}
	if err := protojson.Unmarshal([]byte(out), res); err != nil {
		t.Fatalf("run %s on %s: %v\n%s", monitor, checkpoint, err, out)
	}
	return res
}

// results reads every stored result, stopping after a quiet moment.
func (s *suite) results(t *testing.T) []*pb.RunResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.cli, "results", "tail", "--from-start", "-o", "json")
	cmd.Env = append(os.Environ(), "LOOKOUT_ADDR=127.0.0.1:"+s.port, "LOOKOUT_TOKEN_FILE="+filepath.Join(s.state, "controller", "admin.token"),
		"LOOKOUT_CA_FILE="+filepath.Join(s.state, "controller", "ca.pem"))
	var out bytes.Buffer
	cmd.Stdout = &out
	_ = cmd.Run()
	var got []*pb.RunResult
	dec := json.NewDecoder(&out)
	for dec.More() {
		var raw json.RawMessage
		if dec.Decode(&raw) != nil {
			break
		}
		res := &pb.RunResult{}
		if protojson.Unmarshal(raw, res) == nil {
			got = append(got, res)
		}
	}
	return got
}

// runsInFlight is what the instances of a checkpoint last reported running, from checkpoint list.
func (s *suite) runsInFlight(t *testing.T, checkpoint string) int32 {
	t.Helper()
	resp := &pb.ListCheckpointsResponse{}
	if err := protojson.Unmarshal([]byte(s.mustLookout(t, "checkpoint", "list", "-o", "json")), resp); err != nil {
		t.Fatal(err)
	}
	var k int32
	for _, cp := range resp.Checkpoints {
		if cp.Name == checkpoint {
			for _, ag := range cp.Agents {
				k += ag.RunsInFlight
			}
		}
	}
	return k
}

// unreported counts the runs whose first report the private agent logged as not taken by the
// controller (retrying, or kept in the spool at the run's deadline).
func (s *suite) unreported(t *testing.T, runIDs map[string]bool) int {
	t.Helper()
	logs := s.mustCompose(t, "logs", "--no-color", "agent-private")
	failed := map[string]bool{}
	for line := range strings.SplitSeq(logs, "\n") {
		if !strings.Contains(line, `"msg":"the controller did not take the run's result`) {
			continue
		}
		for id := range runIDs {
			if strings.Contains(line, `"run":"`+id+`"`) {
				failed[id] = true
			}
		}
	}
	return len(failed)
}

func TestAcrossNetworks(t *testing.T) {
	s := setUp(t)
	for _, cp := range []struct{ name, kind string }{{"public", "public"}, {"private", "private"}} {
		tok := strings.TrimSpace(s.mustLookout(t, "checkpoint", "token", "--name", cp.name, "--kind", cp.kind))
		if err := os.WriteFile(filepath.Join(s.state, cp.name+".token"), []byte(tok), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s.mustCompose(t, "up", "-d", "agent-public", "agent-private")
	// The operator's step after enrolling on an external NATS: install the agents' users and reload.
	testutil.Eventually(t, "the agents to enroll", 60*time.Second, func() bool {
		list := s.mustLookout(t, "checkpoint", "list")
		return strings.Count(list, "private-1")+strings.Count(list, "public-1") >= 2
	})
	s.writeNATSConfig(t, s.mustLookout(t, "checkpoint", "nats-config"))
	s.mustCompose(t, "kill", "-s", "HUP", "nats-1", "nats-2", "nats-3")
	monitor := `name: %s
interval: 1h
timeout: %s
checkpoints: [%s]
steps:
  - request:
      url: "http://target:8080%s"
    assert:
      - {source: status, comparison: equal, value: "200"}
`
	apply := func(name, timeout, checkpoints, path string) {
		f := filepath.Join(t.TempDir(), name+".yaml")
		if err := os.WriteFile(f, fmt.Appendf(nil, monitor, name, timeout, checkpoints, path), 0o644); err != nil {
			t.Fatal(err)
		}
		s.mustLookout(t, "monitor", "apply", "-f", f)
	}
	apply("customer-api", "10s", "public, private", "/get")

	// Wait for both instances to be online before judging what they can reach.
	testutil.EventuallyValue(t, "the agents to come online", 90*time.Second, func() (string, error) {
		list := s.mustLookout(t, "checkpoint", "list")
		if strings.Count(list, "online") < 2 {
			return list, fmt.Errorf("checkpoint list:\n%s", list)
		}
		return list, nil
	})

	t.Run("only the private checkpoint reaches the customer network", func(t *testing.T) {
		if res := s.result(t, "customer-api", "private"); res.Outcome != pb.Outcome_OUTCOME_PASSED {
			t.Errorf("from the private checkpoint: %v %v %s", res.Outcome, res.ErrorClass, res.Message)
		}
		res := s.result(t, "customer-api", "public")
		if res.Outcome == pb.Outcome_OUTCOME_PASSED || (res.ErrorClass != pb.ErrorClass_ERROR_CLASS_DNS && res.ErrorClass != pb.ErrorClass_ERROR_CLASS_CONNECT) {
			t.Errorf("from the public checkpoint the customer API answered or failed oddly: %v %v %s", res.Outcome, res.ErrorClass, res.Message)
		}
	})

	t.Run("a private agent cut off from the controller spools and replays", func(t *testing.T) {
		// Runs that take 4 s are claimed, then the agent loses the controller's network while
		// they run; their results wait in its spool until it is reconnected.
		apply("slow-customer-api", "20s", "private", "/delay/4")
		const n = 4
		runIDs := map[string]bool{}
		for range n {
			out := s.mustLookout(t, "run", "slow-customer-api", "--checkpoint", "private")
			runIDs[strings.Fields(out)[0]] = true
		}
		// Claimed, and waiting on the target: the agent's heartbeat (every 2 s) counts them in flight.
		testutil.EventuallyValue(t, "the private agent to hold the runs", 30*time.Second, func() (int32, error) {
			if k := s.runsInFlight(t, "private"); k < n {
				return k, fmt.Errorf("%d of %d runs in flight", k, n)
			}
			return n, nil
		})
		network := s.project + "_lookout"
		container := strings.TrimSpace(s.mustCompose(t, "ps", "-q", "agent-private"))
		must(t, nil, "docker", "network", "disconnect", network, container)
		// Cut off until every run finished and failed to report: its result is in the spool.
		testutil.EventuallyValue(t, "every run's report to fail while the agent is cut off", 90*time.Second, func() (int, error) {
			if k := s.unreported(t, runIDs); k < n {
				return k, fmt.Errorf("%d of %d runs' reports failed", k, n)
			}
			return n, nil
		})
		must(t, nil, "docker", "network", "connect", "--alias", "agent-private", network, container)
		var perRun map[string]int
		testutil.EventuallyValue(t, "every run stored as passed", 90*time.Second, func() (int, error) {
			perRun = map[string]int{}
			for _, r := range s.results(t) {
				if runIDs[r.RunId] && r.Outcome == pb.Outcome_OUTCOME_PASSED {
					perRun[r.RunId]++
				}
			}
			if len(perRun) < n {
				return len(perRun), fmt.Errorf("%d of %d runs stored as passed", len(perRun), n)
			}
			return n, nil
		})
		lost, twice := 0, 0
		for id := range runIDs {
			switch {
			case perRun[id] == 0:
				lost++
			case perRun[id] > 1:
				twice++
			}
		}
		logs := s.mustCompose(t, "logs", "--no-color", "agent-private")
		retried := strings.Count(logs, "the controller did not take the run's result")
		t.Logf("sent %d; executed and stored as passed %d (%d report attempts failed while cut off); lost %d; twice %d", n, len(perRun), retried, lost, twice)
		if retried == 0 {
			t.Error("no report failed while the agent was cut off: the outage did not hit the runs, so this proved nothing")
		}
		if lost != 0 || twice != 0 {
			t.Errorf("lost %d, twice %d", lost, twice)
		}
	})

	t.Run("one NATS node of three stops mid-load", func(t *testing.T) {
		const n = 12
		runIDs := map[string]bool{}
		for i := range n {
			if i == n/3 {
				s.mustCompose(t, "stop", "-t", "1", "nats-1")
			}
			runIDs[strings.Fields(s.mustLookout(t, "run", "customer-api", "--checkpoint", "private"))[0]] = true
		}
		var perRun map[string]int
		passed := 0
		testutil.EventuallyValue(t, "a result for every run", 120*time.Second, func() (int, error) {
			perRun, passed = map[string]int{}, 0
			for _, r := range s.results(t) {
				if runIDs[r.RunId] {
					perRun[r.RunId]++
					if r.Outcome == pb.Outcome_OUTCOME_PASSED {
						passed++
					}
				}
			}
			if len(perRun) < n {
				return len(perRun), fmt.Errorf("results stored for %d of %d runs (%d passed)", len(perRun), n, passed)
			}
			return n, nil
		})
		lost, twice := 0, 0
		for id := range runIDs {
			switch {
			case perRun[id] == 0:
				lost++
			case perRun[id] > 1:
				twice++
			}
		}
		t.Logf("sent %d (nats-1 stopped after %d); stored %d (%d passed); lost %d; twice %d", n, n/3, len(perRun), passed, lost, twice)
		if lost != 0 || twice != 0 {
			t.Errorf("lost %d, twice %d", lost, twice)
		}
		s.mustCompose(t, "start", "nats-1")
	})

	t.Run("the controller container restarts on its data", func(t *testing.T) {
		s.mustCompose(t, "restart", "-t", "5", "controller")
		testutil.EventuallyValue(t, "the controller to come back", 60*time.Second, func() (string, error) {
			out, err := s.lookout(t, "checkpoint", "list")
			if err != nil {
				return "", fmt.Errorf("checkpoint list: %v\n%s", err, out)
			}
			return out, nil
		})
		testutil.EventuallyValue(t, "a run on the private checkpoint to pass after the restart", 60*time.Second, func() (*pb.RunResult, error) {
			if res := s.result(t, "customer-api", "private"); res.Outcome != pb.Outcome_OUTCOME_PASSED {
				return res, fmt.Errorf("the last run: %v %v %s", res.Outcome, res.ErrorClass, res.Message)
			}
			return nil, nil
		})
	})
}
