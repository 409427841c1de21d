//go:build linux

package vault

import (
	"syscall"
	"time"
	"unsafe"
)

// threadCPUClock returns a reading of the CPU time the calling goroutine's OS thread has used
// since the call (the thread may have run other goroutines before), to be read from any
// goroutine; the caller must stay locked to its thread (runtime.LockOSThread) while it is read.
// The clock is the kernel's per-thread CPU clock, made from the thread id as
// pthread_getcpuclockid makes it (CPUCLOCK_SCHED | CPUCLOCK_PERTHREAD_MASK).
func threadCPUClock() func() (time.Duration, bool) {
	clk := uintptr((^syscall.Gettid())<<3 | 6)
	read := func() (time.Duration, bool) {
		var ts syscall.Timespec
		if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clk, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
			return 0, false // the thread has ended
		}
		return time.Duration(ts.Nano()), true
	}
	start, ok := read()
	if !ok {
		return nil
	}
	return func() (time.Duration, bool) {
		now, ok := read()
		return now - start, ok
	}
}
