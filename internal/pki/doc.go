// Package pki owns the controller's internal certificate authority: creating it, loading it, and
// issuing the gRPC/NATS server certificate and the agents' client certificates from their CSRs.
//
// Agent client certificates name the agent and its checkpoint in a URI SAN
// (lookout://agent/<agent-id>?checkpoint=<checkpoint-id>&kind=<kind>) so a verified TLS peer can be
// mapped to its identity without trusting anything the agent says in a request body.
//
// The internal CA is never the platform certificate, and never signs anything for a tenant.
package pki
