package api

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// endUnreadable ends a claimed run whose vault material could not be released (a tampered
// record fails its integrity check; an item deleted since dispatch is gone) with a result that
// says so. The agent treats a refused fetch as "not mine to run" and reports nothing, so
// without this the run would end much later as "agent lost". Only this run fails: others,
// needing other items, go on.
func (s *Agents) endUnreadable(run *pb.Run, err error) {
	if status.Code(err) != codes.FailedPrecondition {
		return
	}
	now := timestamppb.Now()
	res := &pb.RunResult{Outcome: pb.Outcome_OUTCOME_ERROR, ErrorClass: pb.ErrorClass_ERROR_CLASS_SECRET,
		Message: status.Convert(err).Message(), StartedAt: now, FinishedAt: now}
	stored, endErr := s.Store.EndRun(run.RunId, res)
	if endErr != nil {
		s.Logger.Error("ending a run whose secrets could not be read", "run", run.RunId, "err", endErr)
		return
	}
	if stored != nil && s.Notify != nil {
		s.Notify(stored)
	}
}
