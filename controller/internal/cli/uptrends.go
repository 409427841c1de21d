package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lookout-synthetics/lookout/controller/internal/importer"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// The Uptrends import runs here, in the CLI: inline credentials go to the
// vault through the AddCredentials/ReplaceCredentials calls every admin token
// may make, and what is applied is an ordinary Lookout monitor file. So the
// controller needs no Uptrends code and no new call, and --dry-run needs no
// write access at all.

// pairs is a repeatable KEY=VALUE[,KEY=VALUE] flag.
type pairs map[string]string

func (p pairs) String() string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(p)) {
		out = append(out, k+"="+p[k])
	}
	return strings.Join(out, ",")
}

func (p pairs) Set(s string) error {
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if k, v = strings.TrimSpace(k), strings.TrimSpace(v); !ok || k == "" || v == "" {
			return fmt.Errorf("%q is not KEY=VALUE", kv)
		}
		p[k] = v
	}
	return nil
}

// uptrendsFlags are the flags of the Uptrends import and export.
type uptrendsFlags struct {
	dryRun        bool
	bind          pairs
	checkpointMap pairs
}

func (u *uptrendsFlags) register(fs *flag.FlagSet, apply bool) {
	u.bind, u.checkpointMap = pairs{}, pairs{}
	fs.Var(u.bind, "bind", "with --format uptrends: GUID=ITEM binds an Uptrends vault item (or STEP NAME=ITEM a step's inline credentials) to a Lookout vault item; repeatable")
	fs.Var(u.checkpointMap, "checkpoint-map", "with --format uptrends: ID=NAME maps an Uptrends checkpoint id (or region:ID) to a Lookout checkpoint; repeatable; default: every checkpoint")
	if apply {
		fs.BoolVar(&u.dryRun, "dry-run", false, "with --format uptrends: print the Lookout monitor file(s) and what would be stored, and store nothing")
	}
}

func (u *uptrendsFlags) used() bool {
	return u.dryRun || len(u.bind) > 0 || len(u.checkpointMap) > 0
}

// controllerLookup answers the importer's questions with admin calls.
type controllerLookup struct{ c *conn }

var _ importer.Lookup = controllerLookup{}

func (l controllerLookup) VaultItems(ctx context.Context) ([]string, error) {
	var names []string
	err := call(ctx, l.c, 10*time.Second, func(ctx context.Context, cl pb.AdminServiceClient) error {
		resp, err := cl.ListVaultItems(ctx, &pb.ListVaultItemsRequest{})
		for _, it := range resp.GetItems() {
			names = append(names, it.Name)
		}
		return err
	})
	return names, err
}

func (l controllerLookup) Checkpoints(ctx context.Context) ([]importer.Checkpoint, error) {
	var cps []importer.Checkpoint
	err := call(ctx, l.c, 10*time.Second, func(ctx context.Context, cl pb.AdminServiceClient) error {
		resp, err := cl.ListCheckpoints(ctx, &pb.ListCheckpointsRequest{})
		for _, cp := range resp.GetCheckpoints() {
			cps = append(cps, importer.Checkpoint{Name: cp.Name, Public: cp.Kind == pb.CheckpointKind_CHECKPOINT_KIND_PUBLIC})
		}
		return err
	})
	return cps, err
}

// applyUptrends imports an Uptrends export: it converts, reports what was not
// carried over, stores inline credentials and applies each monitor.
func applyUptrends(ctx context.Context, env Env, c *conn, file string, paused bool, u uptrendsFlags) error {
	src, err := readCapped(file, importer.MaxSize)
	if err != nil {
		return fmt.Errorf("-f: %w", err)
	}
	ms, err := importer.Convert(ctx, src, importer.Options{Bind: u.bind, CheckpointMap: u.checkpointMap, Lookup: controllerLookup{c}})
	if err != nil {
		return fmt.Errorf("%s cannot be imported:\n%w", file, err)
	}
	for _, m := range ms {
		printImportReport(env.Stderr, m)
	}
	if u.dryRun {
		return printDryRun(env, ms)
	}
	for _, m := range ms {
		if err := importOne(ctx, env, c, file, m, paused); err != nil {
			return err
		}
	}
	return nil
}

func printImportReport(w io.Writer, m importer.Monitor) {
	if len(m.Report) == 0 {
		return
	}
	fmt.Fprintf(w, "monitor %s: not everything was imported (%d note(s)):\n", m.Monitor.Name, len(m.Report))
	for _, f := range m.Report {
		fmt.Fprintf(w, "  %s\n", oneLine(f.String()))
	}
}

// printDryRun writes the monitor files on stdout (one YAML document each) and
// what an import would store on stderr.
func printDryRun(env Env, ms []importer.Monitor) error {
	for i, m := range ms {
		if i > 0 {
			fmt.Fprintln(env.Stdout, "---")
		}
		for _, cr := range m.Credentials {
			fmt.Fprintf(env.Stderr, "dry run: would store the inline credentials of %s as vault credential set %s (user %s)\n", cr.Path, cr.Item, oneLine(cr.Username))
		}
		if m.Paused {
			fmt.Fprintf(env.Stderr, "dry run: would store monitor %s paused (it is not active in Uptrends)\n", m.Monitor.Name)
		}
		if _, err := env.Stdout.Write(m.File); err != nil {
			return err
		}
	}
	fmt.Fprintln(env.Stderr, "dry run: nothing was stored")
	return nil
}

func importOne(ctx context.Context, env Env, c *conn, file string, m importer.Monitor, paused bool) error {
	for _, cr := range m.Credentials {
		if err := storeCredentials(ctx, env, c, cr); err != nil {
			return fmt.Errorf("storing the inline credentials of %s: %w", cr.Path, err)
		}
	}
	return call(ctx, c, 10*time.Second, func(ctx context.Context, cl pb.AdminServiceClient) error {
		resp, err := cl.ApplyMonitor(ctx, &pb.ApplyMonitorRequest{Source: m.File, Format: "lookout", Filename: file + m.Path, Paused: paused || m.Paused})
		if err != nil {
			return err
		}
		if c.output == "json" {
			return printJSON(env.Stdout, resp)
		}
		fmt.Fprintf(env.Stdout, "monitor %s %s (version %d%s)\n", resp.Monitor.Name, appliedVerb(resp),
			resp.Monitor.Version, map[bool]string{true: ", paused"}[resp.Monitor.Paused])
		return nil
	})
}

func appliedVerb(resp *pb.ApplyMonitorResponse) string {
	switch {
	case resp.Created:
		return "created"
	case resp.Changed:
		return "updated"
	}
	return "unchanged"
}

// storeCredentials adds a credential set, or stores a new version of it when
// the name is taken (importing again after a password change).
func storeCredentials(ctx context.Context, env Env, c *conn, cr importer.Credential) error {
	req := &pb.AddCredentialsRequest{Name: cr.Item, Username: cr.Username, Password: cr.Password, Description: "imported from Uptrends (" + cr.Path + ")"}
	return call(ctx, c, 10*time.Second, func(ctx context.Context, cl pb.AdminServiceClient) error {
		resp, err := cl.AddCredentials(ctx, req)
		verb := "stored"
		if status.Code(err) == codes.AlreadyExists {
			resp, err = cl.ReplaceCredentials(ctx, req)
			verb = "replaced"
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "%s the inline credentials of %s as vault credential set %s (version %d)\n", verb, cr.Path, resp.Item.Name, resp.Item.Version)
		return nil
	})
}

// showUptrends prints a monitor as Uptrends API JSON, and on stderr what it
// could not express.
func showUptrends(ctx context.Context, env Env, c *conn, name string, u uptrendsFlags) error {
	return call(ctx, c, 10*time.Second, func(ctx context.Context, cl pb.AdminServiceClient) error {
		m, err := cl.GetMonitor(ctx, &pb.GetMonitorRequest{Name: name})
		if err != nil {
			return err
		}
		out, report, err := importer.Export(m, importer.ExportOptions{Bind: u.bind, CheckpointMap: u.checkpointMap, Usernames: usernames(ctx, cl, m)})
		if err != nil {
			return err
		}
		for _, f := range report {
			fmt.Fprintf(env.Stderr, "note: %s\n", oneLine(f.String()))
		}
		_, err = fmt.Fprintf(env.Stdout, "%s\n", out)
		return err
	})
}

// usernames reads the user names (metadata, not secret) of the credential
// sets m names, so the export can fill in UserName.
func usernames(ctx context.Context, cl pb.AdminServiceClient, m *pb.Monitor) map[string]string {
	out := map[string]string{}
	for _, st := range m.GetSteps() {
		name := st.GetRequest().GetAuth().GetCredentials()
		if name == "" || out[name] != "" {
			continue
		}
		if it, err := cl.GetVaultItem(ctx, &pb.GetVaultItemRequest{Name: name}); err == nil {
			out[name] = it.Username
		}
	}
	return out
}
