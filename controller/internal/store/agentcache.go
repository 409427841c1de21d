package store

import "sync"

// agentCache keeps agent records in memory for the per-call identity check: every agent RPC looks
// its caller up, and decoding the record from bbolt on each call was a measurable share of the
// controller's CPU per run. Every write to an agent goes through invalidate after its commit; gen
// keeps a read that raced with a write from caching what it read before the write.
type agentCache struct {
	mu  sync.Mutex
	gen uint64
	m   map[string]Agent
}

func (c *agentCache) get(id string) (Agent, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.m[id]
	return a, c.gen, ok
}

// fill caches a, read from the store when the generation was gen, unless a write came since.
func (c *agentCache) fill(a Agent, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if c.m == nil {
		c.m = map[string]Agent{}
	}
	c.m[a.ID] = a
}

// invalidate forgets the named agents, or all of them when ids is empty.
func (c *agentCache) invalidate(ids ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if len(ids) == 0 {
		clear(c.m)
		return
	}
	for _, id := range ids {
		delete(c.m, id)
	}
}
