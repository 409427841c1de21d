package server

import (
	"context"
	"fmt"
	"time"

	"github.com/lookout-synthetics/lookout/controller/internal/api"
	"github.com/lookout-synthetics/lookout/controller/internal/collect"
	"github.com/lookout-synthetics/lookout/controller/internal/console"
	"github.com/lookout-synthetics/lookout/controller/internal/tokens"
)

// consoleTokens signs the console in with the same tokens the gRPC API takes: the admin token
// and scoped API tokens (a revoked one is refused at once). The audit log names a session's calls
// and refused sign-ins as it names those of the same token over gRPC.
type consoleTokens struct{ auth *api.Authenticator }

var (
	_ console.TokenChecker = consoleTokens{}
	_ console.Audit        = consoleTokens{}
	_ console.Uptime       = consoleUptime{}
)

// CheckToken is the token's caller as the API names it; an error keeps TokenScope's (a revoked
// token) for SignInRefused.
func (c consoleTokens) CheckToken(_ context.Context, token string) (console.Identity, error) {
	caller, err := c.auth.TokenScope(token)
	if err != nil {
		return console.Identity{}, fmt.Errorf("%w: %w", console.ErrUnknownToken, err)
	}
	switch caller.Scope {
	case tokens.Admin:
		return console.Identity{Name: caller.Name, Scope: console.ScopeAdmin}, nil
	case tokens.ResultsRead:
		return console.Identity{Name: caller.Name, Scope: console.ScopeRead}, nil
	}
	return console.Identity{}, console.ErrUnknownToken
}

// AsCaller makes a session's backend calls the signed-in token's, for the audit log.
func (c consoleTokens) AsCaller(ctx context.Context, who console.Identity) context.Context {
	scope := tokens.ResultsRead
	if who.Scope == console.ScopeAdmin {
		scope = tokens.Admin
	}
	return api.WithCaller(ctx, api.Caller{Name: who.Name, Scope: scope})
}

// SignInRefused audits a refused sign-in as a refused gRPC call (denied_token, merged per host).
func (c consoleTokens) SignInRefused(_ context.Context, remoteAddr, token string, err error) {
	c.auth.RefusedSignIn(remoteAddr, "console sign-in", token, err)
}

// consoleUptime reads a monitor's uptime and percentiles from the hourly rollups.
type consoleUptime struct{ q *collect.Queries }

// rollupWindows are the windows collect.Queries.MonitorStatus reports, by name.
var rollupWindows = map[string]time.Duration{"24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour}

func (c consoleUptime) Uptime(ctx context.Context, monitor string, windows []time.Duration) ([]console.UptimeFigure, error) {
	st, err := c.q.MonitorStatus(ctx, monitor)
	if err != nil {
		return nil, err
	}
	byWindow := map[time.Duration]console.UptimeFigure{}
	for _, w := range st.Windows {
		d, ok := rollupWindows[w.Window]
		if !ok {
			continue
		}
		byWindow[d] = console.UptimeFigure{Window: d, Ratio: w.Uptime, Runs: int(w.Runs), P50: w.P50.AsDuration(), P95: w.P95.AsDuration()}
	}
	out := make([]console.UptimeFigure, 0, len(windows))
	for _, d := range windows {
		if f, ok := byWindow[d]; ok {
			out = append(out, f)
		}
	}
	return out, nil
}
