package store

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

var bChannels = []byte("channels") // name → Channel

// PutChannel creates or replaces the channel with c's name; the version is bumped only when the
// definition changed.
func (s *Store) PutChannel(c *pb.Channel) (stored *pb.Channel, created, changed bool, err error) {
	in := c
	err = s.UpdateAlerting(func(a AlertTx) error {
		c := proto.Clone(in).(*pb.Channel)
		stored, created, changed = nil, false, false
		now := timestamppb.New(s.now())
		old := &pb.Channel{}
		switch err := a.get(bChannels, c.Name, old); err {
		case nil:
			c.CreatedAt, c.UpdatedAt, c.Version = old.CreatedAt, old.UpdatedAt, old.Version
			if proto.Equal(c, old) {
				stored = old
				return nil
			}
			c.UpdatedAt, c.Version, changed = now, old.Version+1, true
		case ErrNotFound:
			c.CreatedAt, c.UpdatedAt, c.Version, created, changed = now, now, 1, true, true
		default:
			return err
		}
		stored = c
		return a.put(bChannels, c.Name, c)
	})
	return stored, created, changed, err
}

// Channel returns a channel by name.
func (s *Store) Channel(name string) (*pb.Channel, error) {
	c := &pb.Channel{}
	err := s.ViewAlerting(func(a AlertTx) error { return a.get(bChannels, name, c) })
	if err != nil {
		return nil, fmt.Errorf("channel %q: %w", name, err)
	}
	return c, nil
}

// Channels lists every channel by name.
func (s *Store) Channels() ([]*pb.Channel, error) {
	var out []*pb.Channel
	err := s.ViewAlerting(func(a AlertTx) error {
		return a.forEach(bChannels, func(_, v []byte) error {
			c := &pb.Channel{}
			if err := proto.Unmarshal(v, c); err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	})
	return out, err
}

// DeleteChannel removes a channel, unless inUse (called in the transaction with the monitors)
// names monitors that notify it.
func (s *Store) DeleteChannel(name string, inUse func(monitors []*pb.Monitor) error) error {
	return s.UpdateAlerting(func(a AlertTx) error {
		b, err := a.bucket(bChannels)
		if err != nil {
			return err
		}
		if b.Get([]byte(name)) == nil {
			return fmt.Errorf("channel %q: %w", name, ErrNotFound)
		}
		var ms []*pb.Monitor
		err = a.tx.Bucket(bMonitors).ForEach(func(_, v []byte) error {
			m := &pb.Monitor{}
			ms = append(ms, m)
			return proto.Unmarshal(v, m)
		})
		if err != nil {
			return err
		}
		if err := inUse(ms); err != nil {
			return err
		}
		return b.Delete([]byte(name))
	})
}
