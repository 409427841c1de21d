package cli

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/lookout-synthetics/lookout/controller/internal/natsembed"
	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/pki"
)

// checkpointNATSConfig prints the nats-server `authorization` block that gives every enrolled,
// unrevoked agent the permissions the embedded server gives it (docs/external-nats.md).
func checkpointNATSConfig(ctx context.Context, env Env, args []string) error {
	fs := newFlags("checkpoint nats-config", env)
	var c conn
	c.register(fs, env)
	if err := parseNone(fs, args); err != nil {
		return err
	}
	return call(ctx, &c, 10*time.Second, func(ctx context.Context, cl pb.AdminServiceClient) error {
		resp, err := cl.ListCheckpoints(ctx, &pb.ListCheckpointsRequest{})
		if err != nil {
			return err
		}
		block, err := natsembed.ExternalAuthorization(agentIdentities(resp.Checkpoints))
		if err != nil {
			return fmt.Errorf("rendering the NATS authorization block: %w", err)
		}
		fmt.Fprintf(env.Stdout, "# nats-server authorization for Lookout agents (see docs/external-nats.md).\n# Revoked agents are left out: reload the server after every enrollment or revocation.\n%s", block)
		return nil
	})
}

func agentIdentities(cps []*pb.Checkpoint) []pki.Identity {
	var ids []pki.Identity
	for _, cp := range cps {
		for _, ag := range cp.Agents {
			if !ag.Revoked {
				ids = append(ids, pki.Identity{AgentID: ag.Id, CheckpointID: cp.Id, Kind: store.KindName(cp.Kind)})
			}
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].AgentID < ids[j].AgentID })
	return ids
}
