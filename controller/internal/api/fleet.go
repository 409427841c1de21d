package api

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// FleetStore is what Fleet needs of the store.
type FleetStore interface {
	DeleteCheckpoint(name string) (int, error)
	RemoveRevokedInstances(checkpoint, agentID string) ([]string, error)
	Audit(store.AuditEntry) error
}

var _ FleetStore = (*store.Store)(nil)

// Fleet implements FleetService: removing checkpoints and revoked instances.
type Fleet struct {
	pb.UnimplementedFleetServiceServer
	Store  FleetStore
	Logger *slog.Logger
}

// DeleteCheckpoint removes a checkpoint no monitor names and no unrevoked instance serves.
func (f *Fleet) DeleteCheckpoint(ctx context.Context, req *pb.DeleteCheckpointRequest) (*pb.DeleteCheckpointResponse, error) {
	if req.Name == "" {
		return nil, status.Error(codes.InvalidArgument, "name: required")
	}
	n, err := f.Store.DeleteCheckpoint(req.Name)
	if err != nil {
		return nil, fleetStatus(err)
	}
	f.audit(ctx, "checkpoint_delete", req.Name, "instances_removed="+strconv.Itoa(n))
	return &pb.DeleteCheckpointResponse{InstancesRemoved: int32(n)}, nil
}

// RemoveInstances removes revoked instances of a checkpoint.
func (f *Fleet) RemoveInstances(ctx context.Context, req *pb.RemoveInstancesRequest) (*pb.RemoveInstancesResponse, error) {
	if req.Checkpoint == "" {
		return nil, status.Error(codes.InvalidArgument, "checkpoint: required")
	}
	removed, err := f.Store.RemoveRevokedInstances(req.Checkpoint, req.AgentId)
	if err != nil {
		return nil, fleetStatus(err)
	}
	f.audit(ctx, "checkpoint_remove_instances", req.Checkpoint, "agents="+strings.Join(removed, ","))
	return &pb.RemoveInstancesResponse{Removed: removed}, nil
}

func (f *Fleet) audit(ctx context.Context, action, target, detail string) {
	if err := f.Store.Audit(store.AuditEntry{Actor: Actor(ctx), Action: action, Target: target, Detail: detail}); err != nil {
		f.Logger.Error("writing audit entry", "err", err)
	}
}

// fleetStatus maps a refusal because something still uses the checkpoint to FailedPrecondition.
func fleetStatus(err error) error {
	if errors.Is(err, store.ErrInUse) {
		return status.Error(codes.FailedPrecondition, err.Error())
	}
	return toStatus(err)
}
