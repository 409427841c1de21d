package cli

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// instanceState is an agent instance's status word in `checkpoint list`.
func instanceState(ag *pb.AgentInstance) string {
	switch {
	case ag.GetRevoked():
		return "revoked"
	case ag.GetOnline() && ag.GetSaturated():
		// Every run slot was busy and runs waited for one: they start late.
		return "online, saturated"
	case ag.GetOnline():
		return "online"
	}
	return "offline"
}

// inFlight is an instance's runs in flight against its limit ("3/64"), with the runs waiting for
// a slot when there are any ("64/64 +12 waiting"). Agents older than the limit send none: "3".
func inFlight(ag *pb.AgentInstance) string {
	s := fmt.Sprint(ag.GetRunsInFlight())
	if ag.GetMaxConcurrentRuns() > 0 {
		s += fmt.Sprintf("/%d", ag.GetMaxConcurrentRuns())
	}
	if ag.GetRunsWaiting() > 0 {
		s += fmt.Sprintf(" +%d waiting", ag.GetRunsWaiting())
	}
	return s
}

// ago says how long before now t was, to the second: "4s ago", "3m12s ago", "never".
func ago(now, t time.Time) string {
	if t.IsZero() || t.Unix() <= 0 {
		return "never"
	}
	return now.Sub(t).Round(time.Second).String() + " ago"
}

// certExpiry says when an agent's certificate expires, and how soon.
func certExpiry(now time.Time, ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	t := ts.AsTime()
	if !t.After(now) {
		return t.Local().Format(time.DateOnly) + " (expired)"
	}
	return fmt.Sprintf("%s (%dd)", t.Local().Format(time.DateOnly), int(t.Sub(now).Hours()/24))
}
