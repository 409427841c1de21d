package store

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Token errors, in the user's terms.
var (
	ErrTokenUnknown = errors.New("enrollment token is not valid (it may have been mistyped or revoked): create a new one with `lookout-controller checkpoint token`")
	ErrTokenUsed    = errors.New("enrollment token was already used: each token enrols one agent instance; create a new one with `lookout-controller checkpoint token`")
	ErrTokenExpired = errors.New("enrollment token has expired: create a new one with `lookout-controller checkpoint token`")
	ErrKindMismatch = errors.New("checkpoint kind mismatch")
)

// TokenMaxUses is how many agent instances one enrollment token enrols unless it says otherwise.
const TokenMaxUses = 1

// tokenRecord is an enrollment token as stored, under the SHA-256 of the token: the token itself is
// shown once, to the admin who made it, and never stored.
type tokenRecord struct {
	CheckpointID   string            `json:"checkpoint_id"`
	CheckpointName string            `json:"checkpoint_name"`
	Kind           pb.CheckpointKind `json:"kind"`
	CreatedAt      time.Time         `json:"created_at"`
	ExpiresAt      time.Time         `json:"expires_at"`
	Uses           int               `json:"uses"`
	MaxUses        int               `json:"max_uses"`
	UsedAt         time.Time         `json:"used_at,omitzero"`
	UsedBy         string            `json:"used_by,omitempty"`
}

// Agent is one enrolled agent instance.
type Agent struct {
	ID           string    `json:"id"`
	CheckpointID string    `json:"checkpoint_id"`
	InstanceName string    `json:"instance_name"`
	Version      string    `json:"version"`
	EnrolledAt   time.Time `json:"enrolled_at"`
	LastSeen     time.Time `json:"last_seen"`
	Revoked      bool      `json:"revoked"`
	SealingKey   []byte    `json:"sealing_key"` // X25519 public key
	// From the last heartbeat.
	RunsInFlight int32 `json:"runs_in_flight,omitempty"`
	Spooled      int64 `json:"spooled,omitempty"`
	// MaxConcurrent, Waiting and Saturated: the agent's run-slot limit, runs waiting for a slot,
	// and whether a run had to wait since the heartbeat before (issue 20).
	MaxConcurrent int32 `json:"max_concurrent,omitempty"`
	Waiting       int32 `json:"waiting,omitempty"`
	Saturated     bool  `json:"saturated,omitempty"`
	// CertNotAfter is when the agent's current client certificate expires.
	CertNotAfter time.Time `json:"cert_not_after,omitzero"`
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// EnsureCheckpoint returns the checkpoint called name, creating it with kind when it does not exist.
// An existing checkpoint of another kind is an ErrKindMismatch: a checkpoint's kind never changes.
func (s *Store) EnsureCheckpoint(name string, kind pb.CheckpointKind) (*pb.Checkpoint, error) {
	cp := &pb.Checkpoint{}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if id := tx.Bucket(bCheckpointNames).Get([]byte(name)); id != nil {
			if err := getProto(tx.Bucket(bCheckpoints), string(id), cp); err != nil {
				return err
			}
			if cp.Kind != kind {
				return fmt.Errorf("%w: checkpoint %q is %s, not %s; a checkpoint's kind cannot change", ErrKindMismatch, name, KindName(cp.Kind), KindName(kind))
			}
			return nil
		}
		cp = &pb.Checkpoint{Id: NewID("cp_"), Name: name, Kind: kind, CreatedAt: timestamppb.New(s.now())}
		if err := tx.Bucket(bCheckpointNames).Put([]byte(name), []byte(cp.Id)); err != nil {
			return err
		}
		return putProto(tx.Bucket(bCheckpoints), cp.Id, cp)
	})
	return cp, err
}

// KindName is "public" or "private".
func KindName(k pb.CheckpointKind) string {
	switch k {
	case pb.CheckpointKind_CHECKPOINT_KIND_PUBLIC:
		return "public"
	case pb.CheckpointKind_CHECKPOINT_KIND_PRIVATE:
		return "private"
	}
	return "unknown"
}

// Checkpoint returns a checkpoint (without its agents) by id when nameOrID is shaped like one, by
// name otherwise: never one after the other, so a name can never stand in for an id.
func (s *Store) Checkpoint(nameOrID string) (*pb.Checkpoint, error) {
	cp := &pb.Checkpoint{}
	err := s.db.View(func(tx *bolt.Tx) error {
		id := nameOrID
		if _, isID := pb.IDShaped(nameOrID); !isID {
			id = string(tx.Bucket(bCheckpointNames).Get([]byte(nameOrID)))
		}
		if id == "" {
			return ErrNotFound
		}
		return getProto(tx.Bucket(bCheckpoints), id, cp)
	})
	if err != nil {
		return nil, fmt.Errorf("checkpoint %q: %w", nameOrID, err)
	}
	return cp, nil
}

// Checkpoints lists checkpoints by name, each with its agent instances.
func (s *Store) Checkpoints() ([]*pb.Checkpoint, []Agent, error) {
	var cps []*pb.Checkpoint
	var agents []Agent
	err := s.db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(bCheckpoints).ForEach(func(_, v []byte) error {
			cp := &pb.Checkpoint{}
			if err := proto.Unmarshal(v, cp); err != nil {
				return err
			}
			cps = append(cps, cp)
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bAgents).ForEach(func(k, _ []byte) error {
			var a Agent
			if err := getJSON(tx.Bucket(bAgents), k, &a); err != nil {
				return err
			}
			agents = append(agents, a)
			return nil
		})
	})
	sort.Slice(cps, func(i, j int) bool { return cps[i].Name < cps[j].Name })
	return cps, agents, err
}

// CreateToken stores the hash of token for checkpointID, valid for ttl and for one enrollment. The
// record keeps the checkpoint's name and kind as they were when the token was made.
func (s *Store) CreateToken(token, checkpointID string, ttl time.Duration) error {
	return s.CreateTokenUses(token, checkpointID, ttl, TokenMaxUses)
}

// CreateTokenUses is CreateToken for a token that enrols up to uses instances, each with an
// identity of its own.
func (s *Store) CreateTokenUses(token, checkpointID string, ttl time.Duration, uses int) error {
	if uses < 1 {
		return errors.New("an enrollment token needs at least one use")
	}
	if len(token) < 32 {
		return errors.New("enrollment token is too short to be unguessable")
	}
	now := s.now()
	return s.db.Update(func(tx *bolt.Tx) error {
		cp := &pb.Checkpoint{}
		if err := getProto(tx.Bucket(bCheckpoints), checkpointID, cp); err != nil {
			return fmt.Errorf("checkpoint %s: %w", checkpointID, err)
		}
		key := hashToken(token)
		if tx.Bucket(bTokens).Get(key) != nil {
			return fmt.Errorf("enrollment token: %w", ErrExists)
		}
		return putJSON(tx.Bucket(bTokens), key, tokenRecord{CheckpointID: cp.Id, CheckpointName: cp.Name, Kind: cp.Kind,
			CreatedAt: now, ExpiresAt: now.Add(ttl), MaxUses: uses})
	})
}

// RedeemToken consumes token and records the new agent in one transaction, so two concurrent
// redemptions of one token cannot both succeed. It returns the agent's checkpoint.
func (s *Store) RedeemToken(token string, a Agent) (*pb.Checkpoint, error) {
	cp := &pb.Checkpoint{}
	err := s.db.Update(func(tx *bolt.Tx) error {
		var rec tokenRecord
		key := hashToken(token)
		if err := getJSON(tx.Bucket(bTokens), key, &rec); err != nil {
			return ErrTokenUnknown
		}
		switch {
		case rec.Uses >= max(rec.MaxUses, 1) || (rec.MaxUses <= 1 && !rec.UsedAt.IsZero()):
			return ErrTokenUsed
		case s.now().After(rec.ExpiresAt):
			return ErrTokenExpired
		}
		if err := getProto(tx.Bucket(bCheckpoints), rec.CheckpointID, cp); err != nil {
			return fmt.Errorf("token names checkpoint %s, which no longer exists: %w", rec.CheckpointID, err)
		}
		if rec.Kind != pb.CheckpointKind_CHECKPOINT_KIND_UNSPECIFIED && rec.Kind != cp.Kind {
			return fmt.Errorf("%w: the token was made for a %s checkpoint but %q is %s", ErrKindMismatch, KindName(rec.Kind), cp.Name, KindName(cp.Kind))
		}
		rec.Uses++
		rec.UsedAt, rec.UsedBy = s.now(), a.ID
		if err := putJSON(tx.Bucket(bTokens), key, rec); err != nil {
			return err
		}
		// Not seen yet: an instance is seen when it heartbeats, which an agent does once it has
		// subscribed to its runs. Counting enrollment as a sighting listed it online, and so let
		// runs go out, before it could receive them.
		a.CheckpointID, a.EnrolledAt = cp.Id, s.now()
		return putJSON(tx.Bucket(bAgents), []byte(a.ID), a)
	})
	s.agents.invalidate(a.ID)
	if err != nil {
		return nil, err
	}
	return cp, nil
}

// Agent returns an agent instance by id.
func (s *Store) Agent(id string) (Agent, error) {
	a, gen, ok := s.agents.get(id)
	if ok {
		return a, nil
	}
	err := s.db.View(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bAgents), []byte(id), &a) })
	if err == nil {
		s.agents.fill(a, gen)
	}
	return a, err
}

// TouchAgent records a heartbeat: when, the agent's version, and its load.
func (s *Store) TouchAgent(id, version string, inFlight int32, spooled int64) (Agent, error) {
	return s.RecordHeartbeat(id, version, AgentLoad{InFlight: inFlight, Spooled: spooled})
}

// AgentLoad is what a heartbeat says about an agent's load.
type AgentLoad struct {
	InFlight, MaxConcurrent, Waiting int32
	Spooled                          int64
	Saturated                        bool
}

// RecordHeartbeat records a heartbeat: when, the agent's version, and its load and capacity.
func (s *Store) RecordHeartbeat(id, version string, l AgentLoad) (Agent, error) {
	var a Agent
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := getJSON(tx.Bucket(bAgents), []byte(id), &a); err != nil {
			return err
		}
		a.LastSeen, a.Version, a.RunsInFlight, a.Spooled = s.now(), version, max(l.InFlight, 0), max(l.Spooled, 0)
		a.MaxConcurrent, a.Waiting, a.Saturated = max(l.MaxConcurrent, 0), max(l.Waiting, 0), l.Saturated
		return putJSON(tx.Bucket(bAgents), []byte(id), a)
	})
	s.agents.invalidate(id)
	return a, err
}

// SetAgentCertificate records the expiry of an agent's newly issued certificate.
func (s *Store) SetAgentCertificate(id string, notAfter time.Time) error {
	defer s.agents.invalidate(id)
	return s.db.Update(func(tx *bolt.Tx) error {
		var a Agent
		if err := getJSON(tx.Bucket(bAgents), []byte(id), &a); err != nil {
			return err
		}
		a.CertNotAfter = notAfter
		return putJSON(tx.Bucket(bAgents), []byte(id), a)
	})
}

// RevokeCheckpoint marks every agent of the checkpoint revoked and returns how many it changed.
func (s *Store) RevokeCheckpoint(checkpointID string) (int, error) {
	n := 0
	defer s.agents.invalidate()
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bAgents)
		var revoked []Agent
		err := b.ForEach(func(k, _ []byte) error {
			var a Agent
			if err := getJSON(b, k, &a); err != nil {
				return err
			}
			if a.CheckpointID == checkpointID && !a.Revoked {
				a.Revoked = true
				revoked = append(revoked, a)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, a := range revoked {
			if err := putJSON(b, []byte(a.ID), a); err != nil {
				return err
			}
		}
		n = len(revoked)
		return nil
	})
	return n, err
}

// Instances lists the unrevoked agent instances of a checkpoint.
func (s *Store) Instances(checkpointID string) ([]Agent, error) {
	var out []Agent
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bAgents)
		return b.ForEach(func(k, _ []byte) error {
			var a Agent
			if err := getJSON(b, k, &a); err != nil {
				return err
			}
			if a.CheckpointID == checkpointID && !a.Revoked {
				out = append(out, a)
			}
			return nil
		})
	})
	return out, err
}

// EnrollmentsLeft is, per checkpoint id, the uses left on its enrollment tokens that have not expired.
func (s *Store) EnrollmentsLeft() (map[string]int, error) {
	left := map[string]int{}
	now := s.now()
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bTokens)
		return b.ForEach(func(k, _ []byte) error {
			var rec tokenRecord
			if err := getJSON(b, k, &rec); err != nil {
				return err
			}
			if now.Before(rec.ExpiresAt) && rec.Uses < max(rec.MaxUses, 1) {
				left[rec.CheckpointID] += max(rec.MaxUses, 1) - rec.Uses
			}
			return nil
		})
	})
	return left, err
}
