package testutil

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Controller is a lookout-controller serve process on loopback.
type Controller struct {
	*Proc
	Bin, Addr, DataDir, TokenFile, CAFile string
}

// StartController runs `lookout-controller serve` on ephemeral loopback ports with extra flags and
// waits until it is ready.
func StartController(t testing.TB, dataDir string, extra ...string) *Controller {
	t.Helper()
	bin, _ := Binaries(t)
	args := append([]string{"serve", "--data-dir", dataDir, "--grpc-listen", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0", "--log-format", "json"}, extra...)
	p := Start(t, "controller", bin, args...)
	addr := p.WaitFor(t, "the controller to be ready", 30*time.Second, readyAddr)
	return &Controller{Proc: p, Bin: bin, Addr: addr, DataDir: dataDir,
		TokenFile: filepath.Join(dataDir, "admin.token"), CAFile: filepath.Join(dataDir, "ca.pem")}
}

func readyAddr(out string) string {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var line struct {
			Msg  string `json:"msg"`
			GRPC string `json:"grpc"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "controller ready" {
			return line.GRPC
		}
	}
	return ""
}

// cliTimeout bounds one admin command run by a test.
const cliTimeout = 2 * time.Minute

// CLIResult is what an admin command printed and how it exited.
type CLIResult struct {
	Stdout, Stderr string
	Code           int
}

// CLI runs an admin subcommand against the controller, with stdin when given.
// A command still running after cliTimeout (a `results tail` waiting for a result that never
// comes, say) is killed and fails the test.
func (c *Controller) CLI(t testing.TB, stdin string, args ...string) CLIResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Bin, args...)
	cmd.Env = append(os.Environ(), "LOOKOUT_ADDR="+c.Addr, "LOOKOUT_TOKEN_FILE="+c.TokenFile, "LOOKOUT_CA_FILE="+c.CAFile)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("lookout-controller %s: still running after %s; killed\nstdout: %s\nstderr: %s", strings.Join(args, " "), cliTimeout, out.String(), errb.String())
	}
	res := CLIResult{Stdout: out.String(), Stderr: errb.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running %v: %v", args, err)
		}
		res.Code = ee.ExitCode()
	}
	return res
}

// MustCLI runs an admin subcommand and fails the test unless it exits 0.
func (c *Controller) MustCLI(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	r := c.CLI(t, stdin, args...)
	if r.Code != 0 {
		t.Fatalf("lookout-controller %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}
