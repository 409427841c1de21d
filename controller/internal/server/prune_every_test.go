package server

import (
	"testing"
	"time"

	"github.com/lookout-synthetics/lookout/controller/internal/store"
)

// TestPruneEveryCountsEveryRetention: with runs and audit kept forever, the rollups' retention
// alone sets the pace; it must not fall to the 100 ms floor and spin.
func TestPruneEveryCountsEveryRetention(t *testing.T) {
	for name, tc := range map[string]struct {
		r    store.Retention
		want time.Duration
	}{
		"rollups only":  {store.Retention{Rollups: 400 * 24 * time.Hour}, time.Minute},
		"short runs":    {store.Retention{Runs: 2 * time.Second, Rollups: 400 * 24 * time.Hour}, 200 * time.Millisecond},
		"nothing set":   {store.Retention{}, 100 * time.Millisecond},
		"audit shorter": {store.Retention{Runs: time.Hour, Audit: 5 * time.Second}, 500 * time.Millisecond},
		"alerts only":   {store.Retention{Alerts: 30 * time.Second}, 3 * time.Second},
	} {
		if got := pruneEvery(tc.r); got != tc.want {
			t.Errorf("%s: pruneEvery = %v, want %v", name, got, tc.want)
		}
	}
}
