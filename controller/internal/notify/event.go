package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// body is the webhook JSON (DESIGN §8).
type body struct {
	Type               string   `json:"type"`
	AlertID            string   `json:"alert_id,omitempty"`
	Monitor            string   `json:"monitor,omitempty"`
	State              string   `json:"state,omitempty"`
	Level              int32    `json:"level,omitempty"`
	CheckpointsFailing []string `json:"checkpoints_failing"`
	StartedAt          string   `json:"started_at,omitempty"`
	ResolvedAt         string   `json:"resolved_at,omitempty"`
	Message            string   `json:"message,omitempty"`
	RunID              string   `json:"run_id,omitempty"`
}

func eventJSON(ev *pb.Event) ([]byte, error) {
	b := body{Type: ev.Type, AlertID: ev.AlertId, Monitor: ev.Monitor, State: ev.State, Level: ev.Level,
		CheckpointsFailing: ev.CheckpointsFailing, Message: ev.Message, RunID: ev.RunId}
	if b.CheckpointsFailing == nil {
		b.CheckpointsFailing = []string{}
	}
	if ev.StartedAt != nil {
		b.StartedAt = ev.StartedAt.AsTime().UTC().Format(time.RFC3339)
	}
	if ev.ResolvedAt != nil {
		b.ResolvedAt = ev.ResolvedAt.AsTime().UTC().Format(time.RFC3339)
	}
	return json.Marshal(b)
}

// summary is one readable line about the event, for chat, pages and mail subjects.
func summary(ev *pb.Event) string {
	switch ev.Type {
	case "test":
		return "Lookout test notification: this channel works"
	case "alert.resolved":
		return fmt.Sprintf("RESOLVED: monitor %s is ok again", ev.Monitor)
	case "alert.reminder":
		return fmt.Sprintf("STILL DOWN: monitor %s is failing on %s", ev.Monitor, strings.Join(ev.CheckpointsFailing, ", "))
	case "alert.escalated":
		return fmt.Sprintf("ESCALATED (level %d): monitor %s is failing on %s", ev.Level, ev.Monitor, strings.Join(ev.CheckpointsFailing, ", "))
	}
	return fmt.Sprintf("DOWN: monitor %s is failing on %s", ev.Monitor, strings.Join(ev.CheckpointsFailing, ", "))
}

// details is the event's other facts, one per line.
func details(ev *pb.Event) string {
	var b strings.Builder
	if ev.Message != "" {
		fmt.Fprintf(&b, "Error: %s\n", oneLine(ev.Message))
	}
	if ev.StartedAt != nil {
		fmt.Fprintf(&b, "Started: %s\n", ev.StartedAt.AsTime().UTC().Format(time.RFC3339))
	}
	if ev.ResolvedAt != nil {
		fmt.Fprintf(&b, "Resolved: %s\n", ev.ResolvedAt.AsTime().UTC().Format(time.RFC3339))
	}
	if ev.AlertId != "" {
		fmt.Fprintf(&b, "Alert: %s  Run: %s\n", ev.AlertId, ev.RunId)
	}
	return b.String()
}

// oneLine turns control characters (from a monitored API's answer) into spaces and caps the length.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}
