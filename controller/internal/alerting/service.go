package alerting

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lookout-synthetics/lookout/controller/internal/api"
	"github.com/lookout-synthetics/lookout/controller/internal/channelfile"
	"github.com/lookout-synthetics/lookout/controller/internal/notify"
	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// ItemGetter finds a vault item's metadata by name.
type ItemGetter interface {
	Get(nameOrID string) (*pb.VaultItem, error)
}

// ServiceStore is the part of the store AlertService uses: channels, the monitors that name them,
// and the audit log. It never touches runs or results.
type ServiceStore interface {
	Channels
	PutChannel(c *pb.Channel) (stored *pb.Channel, created, changed bool, err error)
	DeleteChannel(name string, inUse func(monitors []*pb.Monitor) error) error
	Monitor(ref string) (*pb.Monitor, error)
	Monitors() ([]*pb.Monitor, error)
	Audit(store.AuditEntry) error
}

var _ ServiceStore = (*store.Store)(nil)

// Service implements AlertService.
type Service struct {
	pb.UnimplementedAlertServiceServer
	Store  ServiceStore
	Engine *Engine
	Vault  ItemGetter
	Sender *notify.Sender
}

var _ pb.AlertServiceServer = (*Service)(nil)

func (s *Service) audit(ctx context.Context, action, target string) {
	_ = s.Store.Audit(store.AuditEntry{Actor: api.Actor(ctx), Action: action, Target: target})
}

// ApplyChannel parses, checks and stores a channel file.
func (s *Service) ApplyChannel(ctx context.Context, req *pb.ApplyChannelRequest) (*pb.ApplyChannelResponse, error) {
	file := cmp.Or(req.Filename, "channel")
	c, err := channelfile.Parse(req.Source)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%s is not a valid channel file:\n%v", file, err)
	}
	if errs := s.checkSecrets(c); len(errs) > 0 {
		return nil, status.Errorf(codes.FailedPrecondition, "%s cannot be applied:\n%v", file, errs)
	}
	stored, created, changed, err := s.Store.PutChannel(c)
	if err != nil {
		return nil, toStatus(err)
	}
	if changed {
		s.audit(ctx, "channel_apply", c.Name)
	}
	return &pb.ApplyChannelResponse{Channel: stored, Created: created, Changed: changed}, nil
}

// checkSecrets checks that every vault item the channel names exists and is a secret.
func (s *Service) checkSecrets(c *pb.Channel) pb.FieldErrors {
	var errs pb.FieldErrors
	refs := channelfile.SecretRefs(c)
	paths := make([]string, 0, len(refs))
	for p := range refs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, path := range paths {
		it, err := s.Vault.Get(refs[path])
		switch {
		case err != nil:
			errs = append(errs, pb.FieldError{Path: path, Msg: fmt.Sprintf("vault secret %q does not exist; add it with `lookout-controller vault add-secret %s` first", refs[path], refs[path])})
		case it.Type != pb.VaultItemType_VAULT_ITEM_TYPE_SECRET:
			errs = append(errs, pb.FieldError{Path: path, Msg: fmt.Sprintf("vault item %q is not a secret; name a secret item (`lookout-controller vault add-secret`)", refs[path])})
		}
	}
	return errs
}

// ListChannels lists channels by name, with the monitors that notify each.
func (s *Service) ListChannels(context.Context, *pb.ListChannelsRequest) (*pb.ListChannelsResponse, error) {
	cs, err := s.Store.Channels()
	if err != nil {
		return nil, toStatus(err)
	}
	ms, err := s.Store.Monitors()
	if err != nil {
		return nil, toStatus(err)
	}
	for _, c := range cs {
		c.UsedBy = MonitorsNotifying(ms, c.Name)
	}
	return &pb.ListChannelsResponse{Channels: cs}, nil
}

// GetChannel returns one channel.
func (s *Service) GetChannel(_ context.Context, req *pb.GetChannelRequest) (*pb.Channel, error) {
	c, err := s.Store.Channel(req.Name)
	if err != nil {
		return nil, toStatus(err)
	}
	ms, err := s.Store.Monitors()
	if err != nil {
		return nil, toStatus(err)
	}
	c.UsedBy = MonitorsNotifying(ms, c.Name)
	return c, nil
}

// DeleteChannel deletes a channel no monitor notifies.
func (s *Service) DeleteChannel(ctx context.Context, req *pb.DeleteChannelRequest) (*pb.DeleteChannelResponse, error) {
	err := s.Store.DeleteChannel(req.Name, func(ms []*pb.Monitor) error {
		if users := MonitorsNotifying(ms, req.Name); len(users) > 0 {
			return status.Errorf(codes.FailedPrecondition, "channel %q is notified by monitor(s) %s: change their alerting: blocks first", req.Name, strings.Join(users, ", "))
		}
		return nil
	})
	if err != nil {
		return nil, toStatus(err)
	}
	s.audit(ctx, "channel_delete", req.Name)
	return &pb.DeleteChannelResponse{}, nil
}

// MonitorsNotifying lists, sorted, the monitors whose alerting names the channel.
func MonitorsNotifying(ms []*pb.Monitor, channel string) []string {
	var out []string
	for _, m := range ms {
		for _, lvl := range m.GetAlerting().GetEscalations() {
			if slices.Contains(lvl.Notify, channel) && !slices.Contains(out, m.Name) {
				out = append(out, m.Name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Channels is the part of the store that answers questions about channels.
type Channels interface {
	Channel(name string) (*pb.Channel, error)
	Channels() ([]*pb.Channel, error)
}

var _ Channels = (*store.Store)(nil)

// ChannelsUsingSecret lists the channels that name a vault item, for the vault's delete check.
func ChannelsUsingSecret(st Channels, item string) ([]string, error) {
	cs, err := st.Channels()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range cs {
		for _, name := range channelfile.SecretRefs(c) {
			if name == item && !slices.Contains(out, c.Name) {
				out = append(out, c.Name)
			}
		}
	}
	return out, nil
}

// TestChannel delivers a test notification now, once, and reports how it went.
func (s *Service) TestChannel(ctx context.Context, req *pb.TestChannelRequest) (*pb.TestChannelResponse, error) {
	c, err := s.Store.Channel(req.Name)
	if err != nil {
		return nil, toStatus(err)
	}
	now := time.Now()
	n := &pb.Notification{Id: store.NewNotificationID(now), Channel: c.Name, Event: &pb.Event{Type: TypeTest, Monitor: "", State: "ok"}}
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	out := s.Sender.Send(sctx, c, n, now)
	a := &pb.DeliveryAttempt{At: timestamppb.New(now), StatusCode: int32(out.StatusCode)}
	if out.Err != nil {
		a.Error = out.Err.Error()
	}
	s.audit(ctx, "channel_test", c.Name)
	return &pb.TestChannelResponse{Delivered: out.Err == nil, Attempt: a}, nil
}

// ListAlerts lists alerts newest first with their notifications.
func (s *Service) ListAlerts(_ context.Context, req *pb.ListAlertsRequest) (*pb.ListAlertsResponse, error) {
	if req.Monitor != "" {
		if _, err := s.Store.Monitor(req.Monitor); err != nil {
			return nil, toStatus(err)
		}
	}
	als, err := s.Engine.Alerts(AlertFilter{OpenOnly: req.OpenOnly, Monitor: req.Monitor, Limit: int(req.Limit)})
	return &pb.ListAlertsResponse{Alerts: als}, toStatus(err)
}

// MaxMute bounds a mute: a forgotten one should not silence a monitor for ever.
const MaxMute = 30 * 24 * time.Hour

// MuteMonitor stops a monitor's notifications for a while; its runs go on.
func (s *Service) MuteMonitor(ctx context.Context, req *pb.MuteMonitorRequest) (*pb.MonitorAlertState, error) {
	d := req.For.AsDuration()
	if req.For == nil || d <= 0 || d > MaxMute {
		return nil, status.Errorf(codes.InvalidArgument, "for: give how long to mute, between 1s and %s (e.g. --for 2h)", MaxMute)
	}
	if len(req.Reason) > 500 {
		return nil, status.Error(codes.InvalidArgument, "reason: at most 500 characters")
	}
	st, err := s.Engine.Mute(req.Name, time.Now().Add(d), req.Reason)
	if err != nil {
		return nil, toStatus(err)
	}
	s.audit(ctx, "monitor_mute", req.Name)
	return st, nil
}

// UnmuteMonitor lets a monitor's notifications go out again.
func (s *Service) UnmuteMonitor(ctx context.Context, req *pb.UnmuteMonitorRequest) (*pb.MonitorAlertState, error) {
	st, err := s.Engine.Unmute(req.Name)
	if err != nil {
		return nil, toStatus(err)
	}
	s.audit(ctx, "monitor_unmute", req.Name)
	return st, nil
}

// ListMonitorStates returns each monitor's alerting state, by monitor name.
func (s *Service) ListMonitorStates(context.Context, *pb.ListMonitorStatesRequest) (*pb.ListMonitorStatesResponse, error) {
	ms, err := s.Store.Monitors()
	if err != nil {
		return nil, toStatus(err)
	}
	slices.SortFunc(ms, func(a, b *pb.Monitor) int { return strings.Compare(a.Name, b.Name) })
	states, err := s.Engine.States(ms)
	return &pb.ListMonitorStatesResponse{States: states}, toStatus(err)
}

func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, store.ErrNotFound) {
		return status.Error(codes.NotFound, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

// Refs answers the API's questions about what alerting refers to.
type Refs struct{ Store Channels }

// ChannelExists says whether a channel of that name exists.
func (r Refs) ChannelExists(name string) bool {
	_, err := r.Store.Channel(name)
	return err == nil
}

// ChannelsUsing lists the channels that name a vault item.
func (r Refs) ChannelsUsing(item string) ([]string, error) { return ChannelsUsingSecret(r.Store, item) }
