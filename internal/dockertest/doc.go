// Package dockertest runs Lookout across real network boundaries: images built FROM scratch from
// the project's static binaries, a controller and a public checkpoint on one Docker network, a
// private checkpoint on that network and on a "customer" network with an API nobody else reaches.
// Its tests carry the `docker` build tag: run them with `make test-docker`, which skips when
// `docker info` fails.
package dockertest
