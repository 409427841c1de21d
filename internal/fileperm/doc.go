// Package fileperm checks that files holding a secret (the admin token, the internal CA's key) can
// be read by their owner only, and tightens the directory that holds them to 0700.
//
// It never reads a file's content, and never loosens a mode: a file readable by others is refused
// with the chmod that fixes it, because its secret may already have been read.
package fileperm
