package api

import (
	"fmt"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// AlertingRefs is what the admin API asks alerting about: the channels a monitor names, and the
// channels that use a vault item.
type AlertingRefs interface {
	ChannelExists(name string) bool
	ChannelsUsing(item string) ([]string, error)
}

// checkChannels checks that every channel a monitor's alerting block names exists.
func (a *Admin) checkChannels(m *pb.Monitor) pb.FieldErrors {
	if a.Alerting == nil {
		return nil
	}
	var errs pb.FieldErrors
	for i, lvl := range m.GetAlerting().GetEscalations() {
		for j, ch := range lvl.Notify {
			if !a.Alerting.ChannelExists(ch) {
				errs = append(errs, pb.FieldError{Path: fmt.Sprintf("alerting.escalations[%d].notify[%d]", i, j),
					Msg: fmt.Sprintf("channel %q does not exist; create it with `lookout-controller channel apply -f FILE` first", ch)})
			}
		}
	}
	return errs
}

// channelsUsing lists the channels that name a vault item (none without alerting).
func (a *Admin) channelsUsing(item string) ([]string, error) {
	if a.Alerting == nil {
		return nil, nil
	}
	return a.Alerting.ChannelsUsing(item)
}
