package api

import (
	"sync"
	"time"
)

// minHeartbeatGap is the least time between two stored heartbeats of one agent. An agent beats
// every 1–20 s; beats closer than this are answered but not written, so a misbehaving agent cannot
// turn heartbeats into a stream of bbolt commits. What is shown is at most this much older.
const minHeartbeatGap = 500 * time.Millisecond

// heartbeatGate remembers when each agent's heartbeat was last stored. It holds one entry per
// enrolled agent that beat (only an authenticated agent reaches it).
type heartbeatGate struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// due says whether agentID's heartbeat at now should be stored, and if so records it.
func (g *heartbeatGate) due(agentID string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t, ok := g.last[agentID]; ok && now.Sub(t) < minHeartbeatGap {
		return false
	}
	if g.last == nil {
		g.last = map[string]time.Time{}
	}
	g.last[agentID] = now
	return true
}
