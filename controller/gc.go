package main

import "runtime/debug"

// defaultGCPercent is the controller's garbage-collection target when the environment sets none:
// the heap may grow to five times what is live before a cycle, against Go's default of twice.
// The controller's live heap is small (tens of MiB at 10,000 monitors) and its allocation rate
// high under load (bbolt's page nodes, per-run messages), so at Go's default it collected every
// ~0.5 s at 2,000 runs/s, and the runs caught in a mark phase set the latency's p99. At 400 the
// p99 at 2,000 runs/s fell by 18–35% in three side-by-side bench pairs, for ~48 MiB more resident
// memory idle at 10,000 monitors and ~135 MiB more at peak under load (docs/benchmarks.md).
const defaultGCPercent = 400

// tuneGC applies defaultGCPercent unless GOGC is set: an operator's GOGC (even "off") replaces it.
// GOMEMLIMIT, which the runtime reads itself, still caps the heap either way: set it where memory
// is limited (a container).
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}
