// Package agenterr is the typed contract between the controller and its agents for refusals an
// agent must act on: the controller attaches a google.rpc.ErrorInfo with one of these reasons to
// the gRPC status, and the agent reads the reason, never the message text.
//
// It must never carry anything secret, nor import controller or agent code.
package agenterr
