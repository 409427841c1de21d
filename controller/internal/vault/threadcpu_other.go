//go:build !linux

package vault

import "time"

// threadCPUClock has no per-thread CPU clock to read here: the budget falls back to wall-clock
// time (see awaitDecode).
func threadCPUClock() func() (time.Duration, bool) { return nil }
