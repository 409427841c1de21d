// Package dispatcher turns a monitor into runs: it records each run in the run table, re-checks the
// platform-certificate policy, resolves the vault items the run needs (by id and version, never
// their material) and publishes the run request on the checkpoint's NATS subject. It also ends runs
// that pass their deadline without a result.
//
// It must never put secret material on NATS.
package dispatcher
