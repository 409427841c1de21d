//go:build linux

package vault

import (
	"syscall"
	"time"
	"unsafe"
)

// threadCPUClock returns a reading of the CPU time used by the calling goroutine's OS thread, to
// be read from any goroutine; the caller must stay locked to its thread (runtime.LockOSThread)
// while it is read. The clock is the kernel's per-thread CPU clock, made from the thread id as
// pthread_getcpuclockid makes it (CPUCLOCK_SCHED | CPUCLOCK_PERTHREAD_MASK).
func threadCPUClock() func() (time.Duration, bool) {
	clk := uintptr((^syscall.Gettid())<<3 | 6)
	return func() (time.Duration, bool) {
		var ts syscall.Timespec
		if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clk, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
			return 0, false // the thread has ended
		}
		return time.Duration(ts.Nano()), true
	}
}
