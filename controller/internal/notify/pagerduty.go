package notify

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// pdEvent is an Events API v2 event.
type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"` // trigger | resolve
	DedupKey    string     `json:"dedup_key"`
	Payload     *pdPayload `json:"payload,omitempty"`
}

type pdPayload struct {
	Summary       string            `json:"summary"`
	Source        string            `json:"source"`
	Severity      string            `json:"severity"`
	CustomDetails map[string]string `json:"custom_details,omitempty"`
}

// pagerduty triggers (or resolves) the incident whose dedup_key is the alert id.
func (s *Sender) pagerduty(ctx context.Context, ch *pb.Channel, n *pb.Notification) Outcome {
	key, bad := s.secret("routing_key_secret", ch.RoutingKeySecret)
	if bad != nil {
		return *bad
	}
	ev := n.Event
	e := pdEvent{RoutingKey: key, EventAction: "trigger", DedupKey: ev.AlertId}
	switch ev.Type {
	case "alert.resolved":
		e.EventAction = "resolve"
	case "test":
		e.DedupKey = n.Id
		e.Payload = &pdPayload{Summary: summary(ev), Source: "lookout", Severity: "info"}
	default:
		e.Payload = &pdPayload{Summary: oneLine(summary(ev)), Source: "lookout/" + ev.Monitor, Severity: "critical",
			CustomDetails: map[string]string{"message": oneLine(ev.Message), "run_id": ev.RunId, "type": ev.Type}}
	}
	body, err := json.Marshal(e)
	if err != nil {
		return Outcome{Err: err, Permanent: true}
	}
	return s.post(ctx, cmp.Or(ch.Url, s.PagerDutyURL, DefaultPagerDutyURL), body, http.Header{})
}
