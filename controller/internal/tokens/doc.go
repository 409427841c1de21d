// Package tokens owns the controller's API tokens with a scope (results:read or admin): it makes
// them, stores their SHA-256 hashes in their own bbolt buckets, lists and revokes them, and checks a
// presented token.
//
// It never stores or returns a token's secret after Create, never logs it, and never accepts a
// revoked token: Check reads the file on every call, so a revocation holds from the next call on.
// The bootstrap admin.token is not kept here; the api package checks it beside these.
package tokens
