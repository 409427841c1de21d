package api

import (
	"cmp"
	"context"
)

// Actor is who the audit log names for a call: the holder of the token that made it ("admin" for
// the bootstrap admin token, "token:NAME" for an API token), or "admin" for a call made in-process
// without one.
func Actor(ctx context.Context) string {
	return cmp.Or(CallerFrom(ctx).Name, AdminCaller)
}
