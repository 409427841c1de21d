package dispatcher

import (
	"fmt"
	"time"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// liveness is what the dispatcher knows, at one moment, of a checkpoint's instances.
type liveness struct {
	live     map[string]bool // instances heard from within the online window, by agent id
	lastSeen time.Time       // the latest heartbeat of any unrevoked instance; zero when none was heard from
	enrolled int             // unrevoked instances
}

// liveness reads a checkpoint's instances. For one online window after the dispatcher started, every
// instance counts as live: their heartbeats did not reach a controller that was down.
func (d *Dispatcher) liveness(checkpointID string) (liveness, error) {
	agents, err := d.o.Store.Instances(checkpointID)
	if err != nil {
		return liveness{}, fmt.Errorf("reading the instances of checkpoint %s: %w", checkpointID, err)
	}
	since := d.o.Now().Add(-d.o.OnlineWindow)
	l := liveness{live: map[string]bool{}, enrolled: len(agents)}
	for _, a := range agents {
		if a.LastSeen.After(since) || d.started.After(since) {
			l.live[a.ID] = true
		}
		if a.LastSeen.After(l.lastSeen) {
			l.lastSeen = a.LastSeen
		}
	}
	return l, nil
}

// liveOther says whether an instance other than agentID is live.
func (l liveness) liveOther(agentID string) bool {
	for id := range l.live {
		if id != agentID {
			return true
		}
	}
	return false
}

// unavailable is the result of a run that cannot go out because no instance of cp is live.
func (d *Dispatcher) unavailable(cpName string, l liveness) *pb.RunResult {
	seen := "no instance of it has enrolled: create one with `lookout-controller checkpoint token --name " + cpName + "` and start an agent with that token"
	switch {
	case l.enrolled > 0 && l.lastSeen.IsZero():
		seen = fmt.Sprintf("its %d enrolled instance(s) never connected: is its agent running and able to reach the controller?", l.enrolled)
	case !l.lastSeen.IsZero():
		ago := d.o.Now().Sub(l.lastSeen).Round(time.Second)
		seen = fmt.Sprintf("last seen %s ago, at %s: is its agent running and able to reach the controller?", ago, l.lastSeen.UTC().Format(time.RFC3339))
	}
	return &pb.RunResult{Outcome: pb.Outcome_OUTCOME_ERROR, ErrorClass: pb.ErrorClass_ERROR_CLASS_CHECKPOINT_UNAVAILABLE,
		Message: fmt.Sprintf("checkpoint unavailable: no live instance of checkpoint %q (%s)", cpName, seen)}
}
