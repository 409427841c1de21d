package checkpoint

import (
	"crypto/tls"
	"fmt"
	"sync"

	"github.com/lookout-synthetics/lookout/internal/certs"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// secretCache holds the secret material the controller sent, by (item id, version), in memory
// only: it is never written to disk or logged. A run asks the controller only for what the cache
// lacks, so a steady-state run fetches nothing but its claim. Certificates are parsed once, when
// they arrive.
//
// An entry leaves the cache when a run names a newer version of its item, when the controller's
// answer to a heartbeat lists it (deleted, replaced, or no longer used on this checkpoint), or when
// the agent stops. Runs in flight keep the entries they took (see take), so a drop never pulls
// material from under a running step.
type secretCache struct {
	mu      sync.Mutex
	m       map[cacheKey]*cachedSecret
	private bool // a private agent's cache never takes the platform certificate

	hits, misses uint64
}

type cacheKey struct {
	item    string
	version int64
}

type cachedSecret struct {
	sec  *pb.RunSecret
	cert *tls.Certificate // certificates only, parsed
}

func newSecretCache(private bool) *secretCache {
	return &secretCache{m: map[cacheKey]*cachedSecret{}, private: private}
}

// held is a run's material by item id: what the cache held at the run's versions, plus what the
// controller sent (which may be a newer version, if the item was replaced since dispatch).
type held map[string]*cachedSecret

// take returns the entries the cache holds for refs at their versions, which the run keeps whatever
// happens to the cache afterwards, and the references to tell the controller it holds.
func (c *secretCache) take(refs []*pb.SecretRef) (held, []*pb.SecretRef) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := held{}
	var have []*pb.SecretRef
	for _, ref := range refs {
		k := cacheKey{ref.GetItemId(), ref.GetVersion()}
		if e, ok := c.m[k]; ok {
			h[k.item] = e
			have = append(have, &pb.SecretRef{ItemId: k.item, Version: k.version})
			c.hits++
		} else {
			c.misses++
		}
	}
	return h, have
}

// put parses and stores material the controller sent, replacing older versions of the same item.
// A private agent refuses platform material outright: it is neither parsed nor kept.
func (c *secretCache) put(sec *pb.RunSecret) (*cachedSecret, error) {
	if sec.GetItemId() == platformItem && c.private {
		return nil, errPlatformOffered
	}
	e := &cachedSecret{sec: sec}
	if v, ok := sec.Value.(*pb.RunSecret_Certificate); ok {
		cert, err := certs.TLSCertificate(v.Certificate.GetChainDer(), v.Certificate.GetPkcs8Key())
		if err != nil {
			return nil, fmt.Errorf("client certificate %q could not be loaded: %w", sec.GetName(), err)
		}
		e.cert = &cert
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		if k.item == sec.GetItemId() && k.version != sec.GetVersion() {
			delete(c.m, k)
		}
	}
	c.m[cacheKey{sec.GetItemId(), sec.GetVersion()}] = e
	return e, nil
}

// list returns what the cache holds, for the heartbeat.
func (c *secretCache) list() []*pb.SecretRef {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*pb.SecretRef, 0, len(c.m))
	for k := range c.m {
		out = append(out, &pb.SecretRef{ItemId: k.item, Version: k.version})
	}
	return out
}

// drop removes entries the controller says are stale.
func (c *secretCache) drop(refs []*pb.SecretRef) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, ref := range refs {
		k := cacheKey{ref.GetItemId(), ref.GetVersion()}
		if _, ok := c.m[k]; ok {
			delete(c.m, k)
			n++
		}
	}
	return n
}

// CacheStats is what the secret cache reports to metrics.
type CacheStats struct {
	Items        int
	Hits, Misses uint64
}

func (c *secretCache) stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Items: len(c.m), Hits: c.hits, Misses: c.misses}
}
