package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// callAlerts is call for the AlertService.
func callAlerts(ctx context.Context, c *conn, timeout time.Duration, fn func(context.Context, pb.AlertServiceClient) error) error {
	cc, err := c.dial()
	if err != nil {
		return err
	}
	defer func(cc *grpc.ClientConn) { _ = cc.Close() }(cc)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := fn(ctx, pb.NewAlertServiceClient(cc)); err != nil {
		return c.explain(err)
	}
	return nil
}

func channelApply(ctx context.Context, env Env, args []string) error {
	fs := newFlags("channel apply", env)
	var c conn
	c.register(fs, env)
	file := fs.String("f", "", "channel file (required)")
	fs.StringVar(file, "file", "", "same as -f")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	if *file == "" {
		return usagef("-f FILE is required")
	}
	src, err := readCapped(*file, 1<<20)
	if err != nil {
		return fmt.Errorf("-f: %w", err)
	}
	return callAlerts(ctx, &c, 10*time.Second, func(ctx context.Context, cl pb.AlertServiceClient) error {
		resp, err := cl.ApplyChannel(ctx, &pb.ApplyChannelRequest{Source: src, Filename: *file})
		if err != nil {
			return err
		}
		if c.output == "json" {
			return printJSON(env.Stdout, resp)
		}
		verb := map[bool]string{true: "created", false: "unchanged"}[resp.Created]
		if !resp.Created && resp.Changed {
			verb = "updated"
		}
		fmt.Fprintf(env.Stdout, "channel %s %s (version %d)\n", oneLine(resp.Channel.Name), verb, resp.Channel.Version)
		return nil
	})
}

func channelList(ctx context.Context, env Env, args []string) error {
	fs := newFlags("channel list", env)
	var c conn
	c.register(fs, env)
	if err := parseNone(fs, args); err != nil {
		return err
	}
	return callAlerts(ctx, &c, 10*time.Second, func(ctx context.Context, cl pb.AlertServiceClient) error {
		resp, err := cl.ListChannels(ctx, &pb.ListChannelsRequest{})
		if err != nil {
			return err
		}
		if c.output == "json" {
			return printJSON(env.Stdout, resp)
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tTYPE\tTARGET\tUSED BY")
		for _, ch := range resp.Channels {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", oneLine(ch.Name), channelType(ch.Type), oneLine(channelTarget(ch)), oneLine(strings.Join(ch.UsedBy, ",")))
		}
		return tw.Flush()
	})
}

func channelType(t pb.ChannelType) string {
	return strings.ToLower(strings.TrimPrefix(t.String(), "CHANNEL_TYPE_"))
}

// channelTarget is where a channel sends, without secrets (Slack's URL is one: only its item name).
func channelTarget(ch *pb.Channel) string {
	switch ch.Type {
	case pb.ChannelType_CHANNEL_TYPE_WEBHOOK:
		return ch.Url
	case pb.ChannelType_CHANNEL_TYPE_SLACK:
		return "url in vault secret " + ch.WebhookUrlSecret
	case pb.ChannelType_CHANNEL_TYPE_PAGERDUTY:
		return "routing key in vault secret " + ch.RoutingKeySecret
	case pb.ChannelType_CHANNEL_TYPE_EMAIL:
		return fmt.Sprintf("%s via %s:%d", strings.Join(ch.To, ","), ch.Smtp.GetHost(), ch.Smtp.GetPort())
	}
	return ""
}

func channelShow(ctx context.Context, env Env, args []string) error {
	fs := newFlags("channel show", env)
	var c conn
	c.register(fs, env)
	name, err := oneName(fs, args, "channel")
	if err != nil {
		return err
	}
	return callAlerts(ctx, &c, 10*time.Second, func(ctx context.Context, cl pb.AlertServiceClient) error {
		ch, err := cl.GetChannel(ctx, &pb.GetChannelRequest{Name: name})
		if err != nil {
			return err
		}
		if c.output == "json" {
			return printJSON(env.Stdout, ch)
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "name:\t%s\ntype:\t%s\ntarget:\t%s\n", oneLine(ch.Name), channelType(ch.Type), oneLine(channelTarget(ch)))
		if ch.SigningSecret != "" {
			fmt.Fprintf(tw, "signing secret:\tvault item %s\n", oneLine(ch.SigningSecret))
		}
		fmt.Fprintf(tw, "version:\t%d\nused by:\t%s\n", ch.Version, oneLine(strings.Join(ch.UsedBy, ", ")))
		return tw.Flush()
	})
}

func channelDelete(ctx context.Context, env Env, args []string) error {
	fs := newFlags("channel delete", env)
	var c conn
	c.register(fs, env)
	name, err := oneName(fs, args, "channel")
	if err != nil {
		return err
	}
	return callAlerts(ctx, &c, 10*time.Second, func(ctx context.Context, cl pb.AlertServiceClient) error {
		if _, err := cl.DeleteChannel(ctx, &pb.DeleteChannelRequest{Name: name}); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "deleted channel %s\n", oneLine(name))
		return nil
	})
}

// channelTest exits 0 only when the test notification was delivered.
func channelTest(ctx context.Context, env Env, args []string) error {
	fs := newFlags("channel test", env)
	var c conn
	c.register(fs, env)
	name, err := oneName(fs, args, "channel")
	if err != nil {
		return err
	}
	return callAlerts(ctx, &c, 30*time.Second, func(ctx context.Context, cl pb.AlertServiceClient) error {
		resp, err := cl.TestChannel(ctx, &pb.TestChannelRequest{Name: name})
		if err != nil {
			return err
		}
		if c.output == "json" {
			if err := printJSON(env.Stdout, resp); err != nil {
				return err
			}
		} else if resp.Delivered {
			fmt.Fprintf(env.Stdout, "test notification delivered to %s (%s)\n", oneLine(name), attemptStatus(resp.Attempt))
		}
		if !resp.Delivered {
			return fmt.Errorf("test notification to %s was not delivered: %s", oneLine(name), oneLine(resp.Attempt.GetError()))
		}
		return nil
	})
}

func attemptStatus(a *pb.DeliveryAttempt) string {
	if a.GetStatusCode() > 0 {
		return fmt.Sprintf("HTTP %d", a.StatusCode)
	}
	if a.GetError() != "" {
		return oneLine(a.Error)
	}
	return "ok"
}
