package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// callFleet runs fn against the controller's FleetService, like call does for AdminService.
func callFleet(ctx context.Context, c *conn, fn func(context.Context, pb.FleetServiceClient) error) error {
	cc, err := c.dial()
	if err != nil {
		return err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := fn(ctx, pb.NewFleetServiceClient(cc)); err != nil {
		return c.explain(err)
	}
	return nil
}

// checkpointDelete removes a checkpoint that no monitor names and whose instances are revoked.
func checkpointDelete(ctx context.Context, env Env, args []string) error {
	fs := newFlags("checkpoint delete", env)
	var c conn
	c.register(fs, env)
	name, err := oneName(fs, args, "checkpoint")
	if err != nil {
		return err
	}
	return callFleet(ctx, &c, func(ctx context.Context, cl pb.FleetServiceClient) error {
		resp, err := cl.DeleteCheckpoint(ctx, &pb.DeleteCheckpointRequest{Name: name})
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "deleted checkpoint %s and %d revoked instance(s)\n", oneLine(name), resp.InstancesRemoved)
		return nil
	})
}

// checkpointRemoveInstances removes revoked instances of a checkpoint.
func checkpointRemoveInstances(ctx context.Context, env Env, args []string) error {
	fs := newFlags("checkpoint remove-instances", env)
	var c conn
	c.register(fs, env)
	agent := fs.String("instance", "", "the agent id of one revoked instance (default: every revoked instance)")
	name, err := oneName(fs, args, "checkpoint")
	if err != nil {
		return err
	}
	return callFleet(ctx, &c, func(ctx context.Context, cl pb.FleetServiceClient) error {
		resp, err := cl.RemoveInstances(ctx, &pb.RemoveInstancesRequest{Checkpoint: name, AgentId: *agent})
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "removed %d revoked instance(s) of checkpoint %s: %s\n", len(resp.Removed), oneLine(name), oneLine(strings.Join(resp.Removed, ", ")))
		return nil
	})
}
