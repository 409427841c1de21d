package ctl

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// profile takes a CPU profile, an execution trace and the allocations of the controller for d,
// written to ProfileDir/name.pprof, name.trace and name.allocs.pprof; the returned function waits
// for them. Without ProfileDir it does nothing. Read the trace's waits with
// `go tool trace -pprof=sched FILE` (time runnable goroutines waited for a core), `-pprof=sync`
// (blocked on channels and locks) or `-pprof=syscall`.
func (b *bench) profile(ctx context.Context, name string, d time.Duration) func() {
	if b.o.ProfileDir == "" {
		return func() {}
	}
	var wg sync.WaitGroup
	for kind, file := range map[string]string{"profile": name + ".pprof", "trace": name + ".trace", "allocs": name + ".allocs.pprof"} {
		wg.Go(func() {
			if err := b.fetchProfile(ctx, kind, file, d); err != nil {
				fmt.Fprintf(b.o.Log, "  %s %s: %v\n", kind, file, err)
			}
		})
	}
	return wg.Wait
}

// fetchProfile fetches /debug/pprof/kind for d into ProfileDir/file.
func (b *bench) fetchProfile(ctx context.Context, kind, file string, d time.Duration) error {
	secs := max(1, int(d.Seconds()))
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", b.pprof, kind, secs), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	if err := os.MkdirAll(b.o.ProfileDir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(b.o.ProfileDir, file))
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, io.LimitReader(resp.Body, 512<<20))
	return err
}
