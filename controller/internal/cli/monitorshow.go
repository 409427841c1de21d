package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/lookout-synthetics/lookout/controller/internal/monitorfile"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// printMonitorFile writes a stored monitor in the format `monitor apply -f` reads, so it can be
// saved, edited and applied again; the controller's bookkeeping goes in a comment on top.
func printMonitorFile(w io.Writer, m *pb.Monitor) error {
	b, err := monitorfile.Format(m)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "# monitor %s, version %d, updated %s, %s\n", m.GetId(), m.GetVersion(), m.GetUpdatedAt().AsTime().Local().Format(time.RFC3339), monitorState(m))
	_, err = w.Write(b)
	return err
}

func monitorState(m *pb.Monitor) string {
	if m.GetPaused() {
		return "paused"
	}
	return "active"
}

func monitorPause(ctx context.Context, env Env, args []string) error {
	return setPaused(ctx, env, args, "monitor pause", true)
}

func monitorResume(ctx context.Context, env Env, args []string) error {
	return setPaused(ctx, env, args, "monitor resume", false)
}

func setPaused(ctx context.Context, env Env, args []string, cmd string, paused bool) error {
	fs := newFlags(cmd, env)
	var c conn
	c.register(fs, env)
	name, err := oneName(fs, args, "monitor")
	if err != nil {
		return err
	}
	return call(ctx, &c, 10*time.Second, func(ctx context.Context, cl pb.AdminServiceClient) error {
		m, err := cl.SetMonitorPaused(ctx, &pb.SetMonitorPausedRequest{Name: name, Paused: paused})
		if err != nil {
			return err
		}
		if c.output == "json" {
			return printJSON(env.Stdout, m)
		}
		fmt.Fprintf(env.Stdout, "%s\t%s\n", m.Name, monitorState(m))
		return nil
	})
}
