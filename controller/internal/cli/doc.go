// Package cli implements the admin subcommands of lookout-controller (vault, monitor, run, results,
// checkpoint, platform-certificate). Each is a thin client of AdminService / ResultService: it reads
// flags and files, calls the controller, and prints text or, with -o json, protobuf JSON.
//
// Passwords are read from files or stdin, never from flags, and are never printed.
package cli
