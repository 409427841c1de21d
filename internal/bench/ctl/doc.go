// Package ctl measures the controller end to end: a real lookout-controller process (embedded NATS,
// bbolt in a temp dir), simulated agents in this process that enroll with real tokens, take runs
// from their queue groups and answer at once over real gRPC (FetchRunSecrets, then ReportResult),
// and a real lookout-agent process for idle memory. It reads CPU and RSS from /proc. It never
// starts anything on a non-loopback address and stops only the processes it started.
package ctl
