package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// callConn dials and runs fn with the connection and a per-call deadline, for services other
// than AdminService.
func callConn(ctx context.Context, c *conn, timeout time.Duration, fn func(context.Context, grpc.ClientConnInterface) error) error {
	cc, err := c.dial()
	if err != nil {
		return err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := fn(ctx, cc); err != nil {
		return c.explain(err)
	}
	return nil
}

func tokenCreate(ctx context.Context, env Env, args []string) error {
	fs := newFlags("token create", env)
	var c conn
	c.register(fs, env)
	name := fs.String("name", "", "token name (required)")
	scope := fs.String("scope", "", "results:read (stream results, read monitors, runs and status) or admin (required)")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	if *name == "" || *scope == "" {
		return usagef("--name and --scope are both required: token create --name grafana --scope results:read")
	}
	return callConn(ctx, &c, 10*time.Second, func(ctx context.Context, cc grpc.ClientConnInterface) error {
		resp, err := pb.NewTokenServiceClient(cc).CreateToken(ctx, &pb.CreateTokenRequest{Name: *name, Scope: *scope})
		if err != nil {
			return err
		}
		if c.output == "json" {
			return printJSON(env.Stdout, resp)
		}
		// The secret alone on stdout, so a script can capture it; it is shown only this once.
		fmt.Fprintln(env.Stdout, resp.Secret)
		fmt.Fprintf(env.Stderr, "token %s (scope %s) created; it is shown only this once\n", resp.Token.Name, resp.Token.Scope)
		return nil
	})
}

func tokenList(ctx context.Context, env Env, args []string) error {
	fs := newFlags("token list", env)
	var c conn
	c.register(fs, env)
	if err := parseNone(fs, args); err != nil {
		return err
	}
	return callConn(ctx, &c, 10*time.Second, func(ctx context.Context, cc grpc.ClientConnInterface) error {
		resp, err := pb.NewTokenServiceClient(cc).ListTokens(ctx, &pb.ListTokensRequest{})
		if err != nil {
			return err
		}
		if c.output == "json" {
			return printJSON(env.Stdout, resp)
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tSCOPE\tCREATED\tSTATE")
		for _, t := range resp.Tokens {
			state := "valid"
			if t.RevokedAt != nil {
				state = "revoked " + t.RevokedAt.AsTime().Local().Format(time.DateTime)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.Scope, t.CreatedAt.AsTime().Local().Format(time.DateTime), state)
		}
		return tw.Flush()
	})
}

func tokenRevoke(ctx context.Context, env Env, args []string) error {
	fs := newFlags("token revoke", env)
	var c conn
	c.register(fs, env)
	name, err := oneName(fs, args, "token")
	if err != nil {
		return err
	}
	return callConn(ctx, &c, 10*time.Second, func(ctx context.Context, cc grpc.ClientConnInterface) error {
		resp, err := pb.NewTokenServiceClient(cc).RevokeToken(ctx, &pb.RevokeTokenRequest{Name: name})
		if err != nil {
			return err
		}
		if c.output == "json" {
			return printJSON(env.Stdout, resp)
		}
		fmt.Fprintf(env.Stdout, "token %s revoked\n", resp.Token.Name)
		return nil
	})
}
