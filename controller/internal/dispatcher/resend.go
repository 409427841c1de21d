package dispatcher

import (
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// resend publishes a new attempt of r, the sweep's retry or hand-over, after checking it again as
// at dispatch: a run that may no longer go out is ended with a result that says why.
func (d *Dispatcher) resend(r *pb.Run, what string) {
	m, refusal, err := d.recheck(r)
	if err != nil {
		// It stays open with its new deadline; the sweep after that ends it with a clear result.
		d.o.Logger.Error("could not check a run before sending it again", "run", r.RunId, "attempt", r.Attempt, "err", err)
		return
	}
	if refusal != nil {
		refusal.StartedAt, refusal.FinishedAt = r.ScheduledAt, timestampNow(d)
		stored, err := d.o.Store.EndRun(r.RunId, refusal)
		if err != nil {
			d.o.Logger.Error("could not end a run that may not be sent again", "run", r.RunId, "reason", refusal.Message, "err", err)
		} else if stored != nil {
			d.ended(r, stored)
		}
		return
	}
	if err := d.publish(r, m); err != nil {
		d.o.Logger.Error("could not "+what, "run", r.RunId, "attempt", r.Attempt, "err", err)
		return
	}
	d.o.Logger.Warn(what, "run", r.RunId, "monitor", r.MonitorName, "checkpoint", r.CheckpointName, "attempt", r.Attempt, "silent_instance", r.HandedOverFrom)
}

// recheck reads the monitor r was made from, by id, and checks that r may still go out: the
// monitor is the version r was dispatched with and still names r's checkpoint, the platform policy
// and the vault items hold, and an instance of the checkpoint is live.
func (d *Dispatcher) recheck(r *pb.Run) (*pb.Monitor, *pb.RunResult, error) {
	m, err := d.o.Store.MonitorByID(r.MonitorId)
	if errors.Is(err, store.ErrNotFound) {
		return nil, resendRefusal("monitor %q was deleted after this run was dispatched; the run is not sent again", r.MonitorName), nil
	}
	if err != nil {
		return nil, nil, err
	}
	if m.Version != r.MonitorVersion {
		return nil, resendRefusal("monitor %q changed after this run was dispatched (version %d, now %d); the run is not sent again, and the next run uses the new version",
			r.MonitorName, r.MonitorVersion, m.Version), nil
	}
	if !slices.Contains(m.Checkpoints, r.CheckpointName) {
		return nil, resendRefusal("monitor %q no longer names checkpoint %q; the run is not sent again", r.MonitorName, r.CheckpointName), nil
	}
	cp, err := d.o.Store.Checkpoint(r.CheckpointId)
	if err != nil {
		return nil, nil, err
	}
	if _, refusal := d.secretRefs(&batch{}, m, cp); refusal != nil {
		return nil, refusal, nil
	}
	if d.o.OnlineWindow > 0 {
		l, err := d.liveness(cp.Id)
		if err != nil {
			return nil, nil, err
		}
		if len(l.live) == 0 {
			return nil, d.unavailable(cp.Name, l), nil
		}
	}
	return m, nil, nil
}

func resendRefusal(format string, args ...any) *pb.RunResult {
	return &pb.RunResult{Outcome: pb.Outcome_OUTCOME_ERROR, ErrorClass: pb.ErrorClass_ERROR_CLASS_POLICY, Message: fmt.Sprintf(format, args...)}
}

// handOver says whether another live instance of a run's checkpoint can take the run its claiming
// instance went silent on. It reads each checkpoint's instances once into seen: one sweep may find
// many runs of the same silent instance.
func (d *Dispatcher) handOver(seen map[string]liveness) func(*pb.Run) bool {
	return func(r *pb.Run) bool {
		if d.o.OnlineWindow <= 0 {
			return false
		}
		l, err := remember(&seen, r.CheckpointId, d.liveness)
		if err != nil {
			d.o.Logger.Error("could not hand over a run whose instance went silent", "run", r.RunId, "err", err)
			return false
		}
		return l.liveOther(r.AgentId)
	}
}

func timestampNow(d *Dispatcher) *timestamppb.Timestamp { return timestamppb.New(d.o.Now()) }
