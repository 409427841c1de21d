package dispatcher

import (
	"fmt"
	"strings"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// endStranded ends, before their deadline, the open runs of checkpoints that have no live instance
// left: the instance that claimed a run (or would have) died, and none remains to hand it to, so
// waiting out the deadline tells the user nothing more. The result says, as at dispatch, that no
// instance is live and when one was last seen. A claimed run ends as "agent lost", so the claiming
// instance's late result (spooled through a network outage) still replaces it.
func (d *Dispatcher) endStranded(seen map[string]liveness) error {
	if d.o.OnlineWindow <= 0 {
		return nil
	}
	now := d.o.Now()
	open, err := d.o.Store.OpenRuns(func(r *pb.Run) bool { return !now.After(r.Deadline.AsTime()) })
	if err != nil || len(open) == 0 {
		return err
	}
	var stranded []*pb.Run
	for _, r := range open {
		l, err := remember(&seen, r.CheckpointId, d.liveness)
		if err != nil {
			return err
		}
		if len(l.live) == 0 {
			stranded = append(stranded, r)
		}
	}
	if len(stranded) == 0 {
		return nil
	}
	ended, err := d.o.Store.EndStranded(now, stranded, func(r *pb.Run) *pb.RunResult {
		return strandedResult(d.unavailable(r.CheckpointName, seen[r.CheckpointId]), r)
	})
	for _, res := range ended {
		d.o.Logger.Warn("run ended: its checkpoint has no live instance left", "run", res.RunId, "monitor", res.MonitorName, "checkpoint", res.CheckpointName, "reason", res.Message)
		d.o.Notify(res)
	}
	return err
}

// strandedResult is the result of a stranded run: unavailable as it is, or, when an instance had
// claimed the run, "agent lost" naming that instance.
func strandedResult(unavailable *pb.RunResult, r *pb.Run) *pb.RunResult {
	if r.AgentId == "" {
		return unavailable
	}
	unavailable.ErrorClass = pb.ErrorClass_ERROR_CLASS_AGENT_LOST
	unavailable.Message = fmt.Sprintf("agent lost: agent %s took the run, and %s", r.AgentId, strings.TrimPrefix(unavailable.Message, "checkpoint unavailable: "))
	return unavailable
}
