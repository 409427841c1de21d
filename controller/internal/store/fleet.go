package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// ErrInUse refuses to remove a checkpoint or an instance that is still in use; the wrapping error
// says what uses it and what to do.
var ErrInUse = errors.New("in use")

// DeleteCheckpoint removes a checkpoint, its name and its instances, in one transaction. It is
// refused while a monitor names the checkpoint (naming them) or while an instance of it is not
// revoked. It returns how many (revoked) instances it removed. Stored runs and results keep the
// checkpoint's id and name.
func (s *Store) DeleteCheckpoint(name string) (removed int, err error) {
	defer s.agents.invalidate()
	err = s.db.Update(func(tx *bolt.Tx) error {
		removed = 0
		id := tx.Bucket(bCheckpointNames).Get([]byte(name))
		if id == nil {
			return fmt.Errorf("checkpoint %q: %w", name, ErrNotFound)
		}
		users, err := monitorsNaming(tx, name)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return fmt.Errorf("checkpoint %q is named by monitor(s) %s: remove it from their checkpoints and apply them again first: %w",
				name, strings.Join(users, ", "), ErrInUse)
		}
		agents, err := agentsOf(tx, string(id))
		if err != nil {
			return err
		}
		if live := unrevoked(agents); len(live) > 0 {
			return fmt.Errorf("checkpoint %q has instances that are not revoked (%s): run `lookout-controller checkpoint revoke %s` first: %w",
				name, strings.Join(live, ", "), name, ErrInUse)
		}
		for _, a := range agents {
			if err := tx.Bucket(bAgents).Delete([]byte(a.ID)); err != nil {
				return err
			}
		}
		removed = len(agents)
		if err := tx.Bucket(bCheckpointNames).Delete([]byte(name)); err != nil {
			return err
		}
		return tx.Bucket(bCheckpoints).Delete(id)
	})
	return removed, err
}

// RemoveRevokedInstances removes the revoked instances of the named checkpoint: the one with
// agentID, or every revoked one when agentID is empty. An instance that is not revoked, or of
// another checkpoint, is refused. It returns the ids removed.
func (s *Store) RemoveRevokedInstances(checkpoint, agentID string) (removed []string, err error) {
	defer s.agents.invalidate()
	err = s.db.Update(func(tx *bolt.Tx) error {
		removed = removed[:0]
		id := tx.Bucket(bCheckpointNames).Get([]byte(checkpoint))
		if id == nil {
			return fmt.Errorf("checkpoint %q: %w", checkpoint, ErrNotFound)
		}
		agents, err := agentsOf(tx, string(id))
		if err != nil {
			return err
		}
		if agentID != "" {
			i := slices.IndexFunc(agents, func(a Agent) bool { return a.ID == agentID })
			if i < 0 {
				return fmt.Errorf("checkpoint %q has no instance %q: %w", checkpoint, agentID, ErrNotFound)
			}
			if !agents[i].Revoked {
				return fmt.Errorf("instance %s of checkpoint %q is not revoked; only revoked instances can be removed: %w", agentID, checkpoint, ErrInUse)
			}
			agents = agents[i : i+1]
		}
		for _, a := range agents {
			if !a.Revoked {
				continue
			}
			if err := tx.Bucket(bAgents).Delete([]byte(a.ID)); err != nil {
				return err
			}
			removed = append(removed, a.ID)
		}
		return nil
	})
	return removed, err
}

// monitorsNaming lists the monitors whose checkpoints include name.
func monitorsNaming(tx *bolt.Tx, name string) ([]string, error) {
	var users []string
	err := tx.Bucket(bMonitors).ForEach(func(_, v []byte) error {
		m := &pb.Monitor{}
		if err := proto.Unmarshal(v, m); err != nil {
			return err
		}
		if slices.Contains(m.Checkpoints, name) {
			users = append(users, m.Name)
		}
		return nil
	})
	slices.Sort(users)
	return users, err
}

func agentsOf(tx *bolt.Tx, checkpointID string) ([]Agent, error) {
	var out []Agent
	b := tx.Bucket(bAgents)
	err := b.ForEach(func(k, _ []byte) error {
		var a Agent
		if err := getJSON(b, k, &a); err != nil {
			return err
		}
		if a.CheckpointID == checkpointID {
			out = append(out, a)
		}
		return nil
	})
	return out, err
}

func unrevoked(agents []Agent) []string {
	var ids []string
	for _, a := range agents {
		if !a.Revoked {
			ids = append(ids, a.ID)
		}
	}
	return ids
}
