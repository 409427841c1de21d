// Package checkpoint is the agent daemon: it takes run requests for its checkpoint from NATS (a queue
// group shared with the checkpoint's other instances), fetches and unseals each run's secrets over
// gRPC, runs the steps, and reports the result over gRPC.
//
// On a private checkpoint it refuses platform-certificate material, even if offered, and never
// writes secret material to disk or to a log. Parsed certificates are cached in memory only.
package checkpoint
