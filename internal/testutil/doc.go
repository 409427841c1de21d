// Package testutil starts real peers on loopback for tests: a test CA with server and client
// certificates, written as PEM files when a server or a flag needs files (one issued by the
// controller's own CA for an external nats-server), PKCS#12 archives made by go-pkcs12 and by the
// openssl command, TLS targets that demand client certificates, the project's binaries built once
// per test process, and child processes whose logs can be waited on. Eventually and
// EventuallyValue wait for a condition instead of sleeping. It is imported only by tests.
package testutil
