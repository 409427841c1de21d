package server

import (
	"context"
	"time"

	"github.com/lookout-synthetics/lookout/controller/internal/api"
	"github.com/lookout-synthetics/lookout/controller/internal/collect"
	"github.com/lookout-synthetics/lookout/controller/internal/console"
	"github.com/lookout-synthetics/lookout/controller/internal/tokens"
)

// consoleTokens signs the console in with the same tokens the gRPC API takes: the admin token
// and scoped API tokens (a revoked one is refused at once).
type consoleTokens struct{ auth *api.Authenticator }

var (
	_ console.TokenChecker = consoleTokens{}
	_ console.Uptime       = consoleUptime{}
)

func (c consoleTokens) CheckToken(_ context.Context, token string) (console.Scope, error) {
	caller, err := c.auth.TokenScope(token)
	if err != nil {
		return 0, console.ErrUnknownToken
	}
	switch caller.Scope {
	case tokens.Admin:
		return console.ScopeAdmin, nil
	case tokens.ResultsRead:
		return console.ScopeRead, nil
	}
	return 0, console.ErrUnknownToken
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
