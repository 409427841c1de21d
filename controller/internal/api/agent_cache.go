package api

import (
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lookout-synthetics/lookout/controller/internal/dispatcher"
	"github.com/lookout-synthetics/lookout/controller/internal/monitorfile"
	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Agents keep the secret material they were sent in memory, by (item, version). A run names the
// versions it needs; the agent says which of them it holds (FetchRunSecretsRequest.have) and the
// controller seals only the rest, so a steady-state run decrypts nothing and seals nothing. The
// agent's heartbeat lists what it holds, and the answer says what to drop.

// SecretMetrics counts what FetchRunSecrets sends and what it leaves to the agents' caches.
type SecretMetrics struct {
	Sealed prometheus.Counter // items decrypted and sealed to an agent
	Reused prometheus.Counter // items an agent already held at the run's version
	Seals  prometheus.Counter // HPKE seal operations (one per call that sends anything)
}

// NewSecretMetrics returns the counters, unregistered.
func NewSecretMetrics() *SecretMetrics {
	return &SecretMetrics{
		Sealed: prometheus.NewCounter(prometheus.CounterOpts{Name: "lookout_run_secrets_sealed_total",
			Help: "Vault items decrypted and sealed to an agent for a run."}),
		Reused: prometheus.NewCounter(prometheus.CounterOpts{Name: "lookout_run_secrets_reused_total",
			Help: "Vault items a run needed that the agent already held at that version, so nothing was sent."}),
		Seals: prometheus.NewCounter(prometheus.CounterOpts{Name: "lookout_run_secret_seals_total",
			Help: "HPKE seal operations for run secrets."}),
	}
}

// Collectors lists the counters for registration.
func (m *SecretMetrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Sealed, m.Reused, m.Seals}
}

func (m *SecretMetrics) sealed(items int) {
	if m != nil && items > 0 {
		m.Sealed.Add(float64(items))
		m.Seals.Inc()
	}
}

func (m *SecretMetrics) reused(items int) {
	if m != nil {
		m.Reused.Add(float64(items))
	}
}

// splitHeld divides a run's secret references into those the agent must be sent and those it says
// it holds. A claim counts only when it names one of the run's own references, same item and same
// version: anything else in have is ignored, never trusted.
func splitHeld(refs, have []*pb.SecretRef) (need, reused []*pb.SecretRef) {
	for _, ref := range refs {
		held := slices.ContainsFunc(have, func(h *pb.SecretRef) bool {
			return h.GetItemId() == ref.ItemId && h.GetVersion() == ref.Version
		})
		if held {
			reused = append(reused, ref)
		} else {
			need = append(need, ref)
		}
	}
	return need, reused
}

// staleCached returns the entries of an agent's cache it should drop: items deleted from the
// vault, superseded by a newer version, no longer named by any monitor that runs on the agent's
// checkpoint, and the platform certificate anywhere but on a public checkpoint (or after it
// changed). Errors reading state drop nothing: the next heartbeat tries again.
func (s *Agents) staleCached(ag store.Agent, cached []*pb.SecretRef) []*pb.SecretRef {
	if len(cached) == 0 {
		return nil
	}
	cp, err := s.Store.Checkpoint(ag.CheckpointID)
	if err != nil {
		return nil
	}
	used, err := s.itemsUsedBy(cp)
	if err != nil {
		return nil
	}
	var drop []*pb.SecretRef
	for _, c := range cached {
		if c.GetItemId() == dispatcher.PlatformItemID {
			if cp.Kind != pb.CheckpointKind_CHECKPOINT_KIND_PUBLIC || s.Platform == nil || s.Platform.Material.GetVersion() != c.GetVersion() {
				drop = append(drop, c)
			}
			continue
		}
		it, err := s.Vault.Get(c.GetItemId())
		if err != nil || it.GetId() != c.GetItemId() || it.GetVersion() != c.GetVersion() || !used[it.GetId()] {
			drop = append(drop, c)
		}
	}
	return drop
}

// itemsUsedBy is the set of vault item ids that the monitors running on cp name. The item names
// come from refCache; their ids are looked up each time, so a replaced or re-created item counts
// as what it is now.
func (s *Agents) itemsUsedBy(cp *pb.Checkpoint) (map[string]bool, error) {
	names, err := s.refs.namesFor(s.Store, cp.Name)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, name := range names {
		if it, err := s.Vault.Get(name); err == nil {
			used[it.GetId()] = true
		}
	}
	return used, nil
}

// refCache holds, per checkpoint, the vault item names its monitors reference. Every heartbeat of
// an agent that holds secrets asks for them; reading and decoding every monitor each time would
// cost a heartbeat time in proportion to the monitors loaded. It is rebuilt, for all checkpoints
// in one pass, after any monitor changes.
type refCache struct {
	mu    sync.Mutex
	gen   uint64
	names map[string][]string // checkpoint name → item names
}

func (c *refCache) namesFor(st *store.Store, checkpoint string) ([]string, error) {
	gen := st.MonitorsGeneration() // before reading the monitors: a change after it makes this stale
	c.mu.Lock()
	if c.names != nil && c.gen == gen {
		defer c.mu.Unlock()
		return c.names[checkpoint], nil
	}
	c.mu.Unlock()
	monitors, err := st.Monitors()
	if err != nil {
		return nil, err
	}
	sets := map[string]map[string]bool{}
	for _, m := range monitors {
		refs := monitorfile.VaultRefs(m)
		for _, cp := range m.GetCheckpoints() {
			for _, ref := range refs {
				if sets[cp] == nil {
					sets[cp] = map[string]bool{}
				}
				sets[cp][ref.Item] = true
			}
		}
	}
	all := make(map[string][]string, len(sets))
	for cp, set := range sets {
		for name := range set {
			all[cp] = append(all[cp], name)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen, c.names = gen, all
	return all[checkpoint], nil
}
