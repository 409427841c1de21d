package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/pki"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// natsNode is one nats-server of a test cluster, configured as docs/external-nats.md says: TLS
// that maps the internal CA's client certificates to users, plus routes to the other nodes.
type natsNode struct {
	conf   string
	srv    *natsserver.Server
	client string // host:port for clients
}

// writeConf writes the node's configuration with the given authorization block.
func (n *natsNode) writeConf(t *testing.T, tlsBlock, cluster, authz string) {
	t.Helper()
	conf := "listen: " + strconv.Quote(n.client) + "\n" + tlsBlock + cluster + authz
	if err := os.WriteFile(n.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (n *natsNode) start(t *testing.T) {
	t.Helper()
	opts, err := natsserver.ProcessConfigFile(n.conf)
	if err != nil {
		t.Fatal(err)
	}
	opts.NoSigs, opts.NoLog = true, true
	if n.srv, err = natsserver.NewServer(opts); err != nil {
		t.Fatal(err)
	}
	go n.srv.Start()
	if !n.srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	srv := n.srv
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
}

// TestNATSClusterNodeLoss runs the controller and two agent instances against a 3-node NATS
// cluster (--nats-url with every node), applies the per-agent authorization that
// `checkpoint nats-config` prints, and stops one node while runs are being triggered: every run
// still ends in exactly one result and none is lost.
func TestNATSClusterNodeLoss(t *testing.T) {
	const n = 30
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	srv := testutil.ControllerCAServerPEM(t, data, dir, "nats", "127.0.0.1") // the controller adopts the CA it finds in its data dir
	tlsBlock := fmt.Sprintf("tls {\n  cert_file: %q\n  key_file: %q\n  ca_file: %q\n  verify_and_map: true\n  timeout: 5\n}\n",
		srv.CertFile, srv.KeyFile, srv.CAFile)
	controllerOnly := fmt.Sprintf("authorization {\n  users = [\n    { user: %q, permissions: { publish: { allow: [\"lookout.run.*\"] }, subscribe: { deny: [\">\"] } } }\n  ]\n}\n", pki.ControllerURI)

	nodes := make([]*natsNode, 3)
	routes := make([]string, 3)
	var urls []string
	for i := range nodes {
		nodes[i] = &natsNode{conf: filepath.Join(dir, fmt.Sprintf("nats-%d.conf", i)), client: freeAddr(t)}
		routes[i] = freeAddr(t)
		urls = append(urls, "tls://"+nodes[i].client)
	}
	cluster := func(i int) string {
		var others []string
		for j, r := range routes {
			if j != i {
				others = append(others, "nats-route://"+r)
			}
		}
		// Reload sorts the running options' route URLs in place (nats-server's imposeOrder) while
		// the goroutines soliciting routes read them: the race detector caught it. Written in that
		// order already, the sort swaps nothing, so nothing is written under the readers.
		slices.Sort(others)
		for k, o := range others {
			others[k] = strconv.Quote(o)
		}
		return fmt.Sprintf("cluster {\n  name: lookout\n  listen: %q\n  routes: [%s]\n}\n", routes[i], strings.Join(others, ", "))
	}
	for i, node := range nodes {
		node.writeConf(t, tlsBlock, cluster(i), controllerOnly)
		node.start(t)
	}
	// Let the cluster form first, every node with routes to both others (several connections
	// each, pooled) and no new one for 300 ms, so the reloads below meet a settled cluster.
	routeCounts := func() (n []int) {
		for _, node := range nodes {
			n = append(n, node.srv.NumRoutes())
		}
		return n
	}
	last, since := routeCounts(), time.Now()
	testutil.EventuallyValue(t, "the NATS cluster to settle", 30*time.Second, func() ([]int, error) {
		now := routeCounts()
		if !slices.Equal(now, last) {
			last, since = now, time.Now()
		}
		if slices.Min(now) < len(nodes)-1 || time.Since(since) <= 300*time.Millisecond {
			return now, fmt.Errorf("routes per node %v", now)
		}
		return now, nil
	})

	var hits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1); fmt.Fprint(w, "ok") }))
	t.Cleanup(target.Close)
	all := strings.Join(urls, ",")
	c := testutil.StartController(t, data, "--nats-url", all, "--nats-advertise-url", all)
	a1 := startInstance(t, c, dir, "site-c", "private", "site-c-1")
	a2 := startInstance(t, c, dir, "site-c", "private", "site-c-2")

	// The operator's step after enrolling: install the agents' users on every node and reload.
	authz := c.MustCLI(t, "", "checkpoint", "nats-config")
	for i, node := range nodes {
		node.writeConf(t, tlsBlock, cluster(i), authz)
		if err := node.srv.Reload(); err != nil {
			t.Fatalf("reloading node %d: %v", i, err)
		}
	}
	for _, a := range []*instance{a1, a2} {
		a.proc.WaitFor(t, a.name+" to reach NATS", 30*time.Second, testutil.Contains(`"msg":"NATS connected"`))
	}
	c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, dir, "m.yaml", []byte(fmt.Sprintf(
		"name: clustered\ninterval: 1h\ntimeout: 10s\ncheckpoints: [site-c]\nsteps:\n  - request:\n      url: %q\n    assert:\n      - {source: status, comparison: equal, value: \"200\"}\n", target.URL))))

	// Stop the node that holds the most of the three processes' connections.
	victim := 0
	for i, node := range nodes {
		if node.srv.NumClients() > nodes[victim].srv.NumClients() {
			victim = i
		}
	}
	clients := nodes[victim].srv.NumClients()
	runIDs := map[string]bool{}
	for i := range n {
		if i == n/3 {
			nodes[victim].srv.Shutdown() // mid-load
			nodes[victim].srv.WaitForShutdown()
		}
		out := c.MustCLI(t, "", "run", "clustered")
		runIDs[strings.Fields(out)[0]] = true
	}

	results := testutil.EventuallyValue(t, "a result for every run", 60*time.Second, func() ([]*pb.RunResult, error) {
		results := storedResults(t, c)
		done := 0
		for _, r := range results {
			if runIDs[r.RunId] {
				done++
			}
		}
		if done < n {
			return results, fmt.Errorf("results stored for %d of %d runs", done, n)
		}
		return results, nil
	})
	perRun, passed := map[string]int{}, 0
	for _, r := range results {
		if !runIDs[r.RunId] {
			continue
		}
		perRun[r.RunId]++
		if r.Outcome == pb.Outcome_OUTCOME_PASSED {
			passed++
		}
	}
	lost, twice := 0, 0
	for id := range runIDs {
		switch {
		case perRun[id] == 0:
			lost++
		case perRun[id] > 1:
			twice++
		}
	}
	t.Logf("sent %d runs (node %d, with %d of the connections, stopped after %d); executed %d; stored %d (%d passed); lost %d; twice %d",
		n, victim, clients, n/3, hits.Load(), len(perRun), passed, lost, twice)
	if clients == 0 {
		t.Error("the stopped node had no connections: the test proved nothing")
	}
	if lost != 0 || twice != 0 {
		t.Errorf("lost %d, stored twice %d", lost, twice)
	}
	if passed < n*2/3 {
		t.Errorf("only %d of %d runs passed after losing one node of three", passed, n)
	}
}
