// Package buildinfo holds the version both binaries report (set with -ldflags -X at build time).
package buildinfo

// Version is the release, or "dev" for a local build.
var Version = "dev"
