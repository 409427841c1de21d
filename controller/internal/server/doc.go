// Package server wires a controller together — data dir, internal CA, admin token, vault, store,
// NATS (embedded or external), gRPC services, scheduler, dispatcher, metrics — and runs it until its
// context ends. It is what `lookout-controller serve` and `dev` start.
package server
