// Package devenv is `lookout-controller dev`: a whole Lookout on one machine, for trying it out. It
// makes a throw-away data dir, a demo PKI (an API owner's CA, a server certificate for the demo API,
// a customer client certificate for the vault and a platform certificate), starts the controller
// with its embedded NATS, a local HTTPS API that demands a client certificate, one public and one
// private agent (as lookout-agent processes), applies the monitors in deploy/examples, and prints
// results as they arrive.
//
// It binds only to 127.0.0.1.
package devenv
