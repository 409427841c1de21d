package store

import (
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// PutMonitor creates or replaces the monitor with m's name. It keeps the id and creation time of an
// existing monitor and bumps the version only when the definition changed. m.Paused stores the
// monitor paused; otherwise an existing monitor keeps its paused state.
func (s *Store) PutMonitor(m *pb.Monitor) (stored *pb.Monitor, created, changed bool, err error) {
	in := m
	// Group-committed like the run table, so a bulk apply shares transactions. The function may
	// run more than once, so it starts from the caller's monitor every time.
	err = s.group.update(func(tx *bolt.Tx) error {
		m := proto.Clone(in).(*pb.Monitor)
		stored, created, changed = nil, false, false
		names, mons := tx.Bucket(bMonitorNames), tx.Bucket(bMonitors)
		now := timestamppb.New(s.now())
		if id := names.Get([]byte(m.Name)); id != nil {
			old := &pb.Monitor{}
			if err := getProto(mons, string(id), old); err != nil {
				return err
			}
			// Paused is the operator's, not the file's: applying the file again keeps it, unless
			// the caller asks for the monitor paused. Pausing is not a new version.
			m.Id, m.CreatedAt, m.Version, m.UpdatedAt, m.Paused = old.Id, old.CreatedAt, old.Version, old.UpdatedAt, old.Paused
			if !proto.Equal(m, old) {
				m.Version, m.UpdatedAt, changed = old.Version+1, now, true
			}
			if in.Paused && !m.Paused {
				m.Paused, changed = true, true
			}
			if !changed {
				stored = old
				return nil
			}
		} else {
			m.Id, m.Version, m.CreatedAt, m.UpdatedAt = NewID("mon_"), 1, now, now
			created, changed = true, true
			if err := names.Put([]byte(m.Name), []byte(m.Id)); err != nil {
				return err
			}
		}
		stored = m
		return putProto(mons, m.Id, m)
	})
	if err == nil && changed {
		s.monitorsGen.Add(1)
	}
	return stored, created, changed, err
}

// SetMonitorPaused pauses or resumes a monitor's schedule. The definition's version is unchanged;
// changed is false when the monitor already was in that state.
func (s *Store) SetMonitorPaused(nameOrID string, paused bool) (m *pb.Monitor, changed bool, err error) {
	// Group-committed, so pausing or resuming many monitors at once shares transactions.
	err = s.group.update(func(tx *bolt.Tx) error {
		changed = false
		id := monitorKey(tx, nameOrID)
		mons := tx.Bucket(bMonitors)
		m = &pb.Monitor{}
		if err := getProto(mons, id, m); err != nil {
			return fmt.Errorf("monitor %q: %w", nameOrID, err)
		}
		if m.Paused == paused {
			return nil
		}
		m.Paused, changed = paused, true
		return putProto(mons, m.Id, m)
	})
	if err != nil {
		return nil, false, err
	}
	if changed {
		s.monitorsGen.Add(1)
	}
	return m, changed, nil
}

// MonitorIDPrefix begins every monitor id. A reference that begins with it is looked up as an id
// and only as an id; any other as a name and only as a name: a monitor named like another's id
// never answers for it, nor the other way round.
const MonitorIDPrefix = "mon_"

// monitorKey is the id ref stands for: ref itself when it is shaped like an id, else the id its
// name maps to ("" when no monitor has that name).
func monitorKey(tx *bolt.Tx, ref string) string {
	if strings.HasPrefix(ref, MonitorIDPrefix) {
		return ref
	}
	return string(tx.Bucket(bMonitorNames).Get([]byte(ref)))
}

// Monitor returns a monitor by name, or by id when ref is shaped like one (see MonitorIDPrefix).
func (s *Store) Monitor(ref string) (*pb.Monitor, error) {
	m := &pb.Monitor{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return getProto(tx.Bucket(bMonitors), monitorKey(tx, ref), m)
	})
	if err != nil {
		return nil, fmt.Errorf("monitor %q: %w", ref, err)
	}
	return m, nil
}

// MonitorByID returns the monitor with this id; never one whose name it is.
func (s *Store) MonitorByID(id string) (*pb.Monitor, error) {
	m := &pb.Monitor{}
	err := s.db.View(func(tx *bolt.Tx) error { return getProto(tx.Bucket(bMonitors), id, m) })
	if err != nil {
		return nil, fmt.Errorf("monitor %q: %w", id, err)
	}
	return m, nil
}

// Monitors lists every monitor, in creation order.
func (s *Store) Monitors() ([]*pb.Monitor, error) {
	var out []*pb.Monitor
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bMonitors).ForEach(func(_, v []byte) error {
			m := &pb.Monitor{}
			if err := proto.Unmarshal(v, m); err != nil {
				return err
			}
			out = append(out, m)
			return nil
		})
	})
	return out, err
}

// DeleteMonitor removes a monitor by name or id. Its stored results stay. The lookup and the
// delete are one transaction, so a concurrent delete and re-apply of the same name cannot leave
// the new monitor without its name.
func (s *Store) DeleteMonitor(nameOrID string) error {
	err := s.group.update(func(tx *bolt.Tx) error {
		names, mons := tx.Bucket(bMonitorNames), tx.Bucket(bMonitors)
		id := monitorKey(tx, nameOrID)
		m := &pb.Monitor{}
		if err := getProto(mons, id, m); err != nil {
			return fmt.Errorf("monitor %q: %w", nameOrID, err)
		}
		if string(names.Get([]byte(m.Name))) == m.Id {
			if err := names.Delete([]byte(m.Name)); err != nil {
				return err
			}
		}
		return mons.Delete([]byte(m.Id))
	})
	if err == nil {
		s.monitorsGen.Add(1)
	}
	return err
}

// MonitorsGeneration changes after every committed change to a monitor (apply, pause, resume,
// delete). A cache of something derived from the monitors reads it before reading them and is
// rebuilt when it has changed; it can lag a change by the moment between its commit and the
// increment.
func (s *Store) MonitorsGeneration() uint64 { return s.monitorsGen.Load() }
