package testutil

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// Binaries builds lookout-controller and lookout-agent once per test process and returns their
// paths. RemoveBinaries (from TestMain) deletes them.
func Binaries(t testing.TB) (controller, agent string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "lookout-test-bin-")
		if buildErr != nil {
			return
		}
		root := moduleRoot()
		for _, b := range []struct{ out, pkg string }{{"lookout-controller", "./controller"}, {"lookout-agent", "./agent"}} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, b.out), b.pkg)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "lookout-controller"), filepath.Join(binDir, "lookout-agent")
}

// RemoveBinaries deletes what Binaries built.
func RemoveBinaries() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Proc is a child process whose output the test can wait on.
type Proc struct {
	Cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

type lockedWriter struct{ p *Proc }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.out.Write(b)
}

// Start runs bin with args. At cleanup it is sent SIGTERM, then killed after 10s; its output is
// logged when the test failed.
func Start(t testing.TB, name, bin string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.Cmd.Stdout, p.Cmd.Stderr = lockedWriter{p}, lockedWriter{p}
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { _ = p.Cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("--- output of %s ---\n%s", name, p.Output())
		}
	})
	return p
}

// Stop sends SIGTERM and waits up to 10s, then kills.
func (p *Proc) Stop() {
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Output is everything the process wrote so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// WaitFor polls the output until match returns a non-empty string, the process exits, or timeout.
func (p *Proc) WaitFor(t testing.TB, what string, timeout time.Duration, match func(out string) string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		if s := match(p.Output()); s != "" {
			return s
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: timed out after %v; output so far:\n%s", what, timeout, p.Output())
		case <-p.done:
			if s := match(p.Output()); s != "" {
				return s
			}
			t.Fatalf("waiting for %s: the process exited (%v); output:\n%s", what, p.Cmd.ProcessState, p.Output())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Contains is a WaitFor matcher for a substring.
func Contains(sub string) func(string) string {
	return func(out string) string {
		if strings.Contains(out, sub) {
			return sub
		}
		return ""
	}
}
