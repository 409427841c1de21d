package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

func auditList(ctx context.Context, env Env, args []string) error {
	fs := newFlags("audit", env)
	var c conn
	c.register(fs, env)
	since := fs.String("since", "", "only entries this recent: a duration back from now by this machine's clock (24h, 90m), or a time (2026-11-29T08:00:00Z)")
	actor := fs.String("actor", "", "only this actor: admin (the bootstrap admin token), token:NAME (an API token), or an agent id")
	action := fs.String("action", "", "only this action, e.g. fetch_run_secrets, denied_fetch_run_secrets, vault_delete")
	target := fs.String("target", "", "only this target: a run id, an item or checkpoint name")
	limit := fs.Uint("limit", 100, "show the newest this many matching entries (at most 10000)")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	req := &pb.ListAuditEntriesRequest{Actor: *actor, Action: *action, Target: *target}
	if *limit == 0 || *limit > 10000 {
		return usagef("--limit must be between 1 and 10000, got %d", *limit)
	}
	req.Limit = uint32(*limit)
	if *since != "" {
		t, err := parseSince(*since, time.Now())
		if err != nil {
			return err
		}
		req.Since = timestamppb.New(t)
	}
	return call(ctx, &c, 30*time.Second, func(ctx context.Context, cl pb.AdminServiceClient) error {
		resp, err := cl.ListAuditEntries(ctx, req)
		if err != nil {
			return err
		}
		if c.output == "json" {
			return printJSON(env.Stdout, resp)
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tACTOR\tACTION\tTARGET\tDETAIL")
		for _, e := range resp.Entries {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Time.AsTime().UTC().Format(time.RFC3339), oneLine(e.Actor), oneLine(e.Action), oneLine(e.Target), oneLine(e.Detail))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if resp.Truncated {
			fmt.Fprintf(env.Stderr, "older entries may match too: raise --limit or narrow with --since, --actor, --action or --target\n")
		}
		return nil
	})
}

// parseSince reads --since: a duration back from now, or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, usagef("--since %s: give a positive duration back from now (24h) or a time", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("--since %q is neither a duration (24h, 90m) nor an RFC 3339 time (2026-11-29T08:00:00Z)", s)
}
