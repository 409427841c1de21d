package alerting

import (
	"google.golang.org/protobuf/types/known/timestamppb"
	"strconv"
	"time"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// confirmNeeded is how many checkpoints must fail their latest run to confirm an error.
func confirmNeeded(m *pb.Monitor) int {
	if c := int(m.GetAlerting().GetConfirm()); c > 0 {
		return min(c, max(len(m.Checkpoints), 1))
	}
	return min(2, max(len(m.Checkpoints), 1))
}

// levelDue says whether level lvl of an alert is due at now: by failed runs when it counts them,
// else by how long the alert has been open.
func levelDue(lvl *pb.EscalationLevel, al *pb.Alert, now time.Time) bool {
	if n := lvl.GetAfterErrors(); n > 0 {
		return al.FailedRuns >= n
	}
	return !now.Before(al.ConfirmedAt.AsTime().Add(lvl.GetAfter().AsDuration()))
}

// reminderDue says whether a fired level's reminder is due at now.
func reminderDue(lvl *pb.EscalationLevel, last time.Time, now time.Time) bool {
	every := lvl.GetRemindEvery().AsDuration()
	return every > 0 && !now.Before(last.Add(every))
}

// mutedAt says whether st is muted at now.
func mutedAt(st *pb.MonitorAlertState, now time.Time) bool {
	return st.MutedUntil != nil && now.Before(st.MutedUntil.AsTime())
}

// failureMessage is the first failing step's error, or the run's message.
func failureMessage(res *pb.RunResult) string {
	for _, s := range res.Steps {
		if !s.Passed && !s.Skipped {
			if s.Error != "" {
				return stepLabel(s) + ": " + s.Error
			}
			for _, a := range s.Assertions {
				if !a.Passed {
					return stepLabel(s) + ": " + a.Message
				}
			}
		}
	}
	return res.Message
}

func stepLabel(s *pb.StepResult) string {
	if s.Name != "" {
		return "step " + s.Name
	}
	return "step " + strconv.Itoa(int(s.Index)+1)
}

// fired says whether a level's notified-at time is set: a level not fired yet holds the zero
// Timestamp (a repeated field cannot hold nil).
func fired(ts *timestamppb.Timestamp) bool {
	return ts != nil && (ts.Seconds != 0 || ts.Nanos != 0)
}
