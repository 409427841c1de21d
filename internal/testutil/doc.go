// Package testutil starts real peers on loopback for tests: a test CA with server and client
// certificates, PKCS#12 archives made by go-pkcs12 and by the openssl command, TLS targets that
// demand client certificates, the project's binaries built once per test process, and child
// processes whose logs can be waited on. It is imported only by tests.
package testutil
