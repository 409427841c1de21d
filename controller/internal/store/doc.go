// Package store owns the controller's durable state in its single bbolt file: monitors, checkpoints,
// agent instances, enrollment tokens, the run table, results and the audit log, and alerting's
// monitor states, alerts, notification outbox and channels (alerts.go, outbox.go, channels.go). (The
// vault keeps its own buckets in the same file; see controller/internal/vault.)
//
// The run table is the authority on runs: NATS only carries a copy of a request. Every run moves
// dispatched → running → done and ends in exactly one terminal result, stored here.
//
// It never stores secret material: enrollment tokens are kept as SHA-256 hashes, and vault material
// is sealed by the vault before it reaches bbolt.
package store
