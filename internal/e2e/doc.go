// Package e2e holds the end-to-end tests: the real lookout-controller and lookout-agent binaries as
// processes on loopback, driven through the admin CLI, against TLS targets that demand client
// certificates.
package e2e
