package server

import (
	"sync"
	"sync/atomic"
	"testing"
)

// Every call returns after a reload that began after it, so what it wrote before calling is seen,
// however calls interleave; calls never cost more reloads than there are calls.
func TestCoalescedSharesReloadsAndSeesEveryWrite(t *testing.T) {
	var written, seen atomic.Int64
	var runs atomic.Int64
	first, release := make(chan struct{}), make(chan struct{})
	resync := coalesced(func() {
		if runs.Add(1) == 1 {
			close(first)
			<-release
		}
		seen.Store(written.Load())
	})
	go resync() // holds the first reload
	<-first
	const n = 20
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := written.Add(1)
			resync()
			if seen.Load() < mine {
				t.Errorf("call returned before a reload saw its write %d (seen %d)", mine, seen.Load())
			}
		}()
	}
	close(release)
	wg.Wait()
	if r := runs.Load(); r > n+1 {
		t.Errorf("%d reloads for %d calls", r, n+1)
	}
}
