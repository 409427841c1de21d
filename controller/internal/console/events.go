package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// liveCell is what the overview's script gets for each new result: which cell, its new class,
// the run to link to and when it finished. Only ids, names and numbers: the script sets them with
// textContent and attributes, never as markup.
type liveCell struct {
	Key   string `json:"k"`
	Class string `json:"c"`
	RunID string `json:"r"`
	At    int64  `json:"t"`
	// State is the monitor's alerting state after this result (ok, unconfirmed, down, muted,
	// paused), for the row; empty without alerting, and the row then follows its cells.
	State string `json:"s,omitempty"`
}

// keepAlive: an idle stream sends a comment this often, so proxies keep it open.
const keepAlive = 20 * time.Second

// events streams new results as Server-Sent Events until the browser leaves or the console closes.
func (c *Console) events(w http.ResponseWriter, r *http.Request, ss *session) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming is not supported here", http.StatusInternalServerError)
		return
	}
	c.streams.Add(1)
	defer c.streams.Done()
	feed, unsubscribe := c.o.Index.subscribe()
	defer unsubscribe()
	w.Header().Set("Content-Type", "text/event-stream")
	_, _ = fmt.Fprint(w, "retry: 3000\n\n")
	fl.Flush()
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-c.stop:
			return
		case <-tick.C:
			if !c.tokenStillValid(r.Context(), ss) {
				return
			}
			_, _ = fmt.Fprint(w, ": keep-alive\n\n")
		case s := <-feed:
			if !c.tokenStillValid(r.Context(), ss) {
				return // revoked: the stream ends at its next event
			}
			writeEvent(w, s, c.liveState(r.Context(), s.MonitorID))
		}
		fl.Flush()
	}
}

// liveState is a monitor's alerting state for a live event: alerting changes it in the
// transaction that stores the result, so it is current when the result reaches the stream. Empty
// without alerting or when it cannot be read (the row then keeps the state it was rendered with).
func (c *Console) liveState(ctx context.Context, monitorID string) string {
	if c.o.Alerts == nil {
		return ""
	}
	m, err := c.monitors.byMonitorID(monitorID)
	if err != nil || m == nil {
		return ""
	}
	states, err := c.o.Alerts.States(ctx, []*pb.Monitor{m})
	if err != nil {
		return ""
	}
	return states[monitorID]
}

func writeEvent(w http.ResponseWriter, s runSummary, state string) {
	b, _ := json.Marshal(liveCell{Key: s.MonitorID + "/" + s.Checkpoint, Class: outcomeClass(s.Outcome), RunID: s.RunID, At: s.Finished.Unix(), State: state})
	_, _ = fmt.Fprintf(w, "event: result\ndata: %s\n\n", b)
}
