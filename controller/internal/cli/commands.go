package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Command is one admin subcommand.
type Command struct {
	Name, Summary string
	run           func(ctx context.Context, env Env, args []string) error
}

// Commands lists the admin subcommands, by their full names ("vault add-certificate" …).
func Commands() []Command {
	return []Command{
		{"vault add-certificate", "add a PKCS#12 client certificate archive to the vault", vaultAddCertificate},
		{"vault add-credentials", "add a username/password credential set to the vault", vaultAddCredentials},
		{"vault list", "list vault items (metadata only)", vaultList},
		{"vault show", "show one vault item's metadata", vaultShow},
		{"vault replace-certificate", "store a new PKCS#12 archive for a certificate item as its next version: NAME -f FILE", vaultReplaceCertificate},
		{"vault replace-credentials", "store a new username/password for a credential set as its next version: NAME --username U", vaultReplaceCredentials},
		{"vault add-secret", "add a secret value (API key, token) to the vault: NAME, value on stdin or --value-file PATH", vaultAddSecret},
		{"vault replace-secret", "store a new value for a secret as its next version: NAME, value on stdin or --value-file PATH", vaultReplaceSecret},
		{"vault add-file", "add a file (request body, upload, PEM CA bundle; at most 1 MiB) to the vault: NAME --file PATH", vaultAddFile},
		{"vault replace-file", "store new content for a file item as its next version: NAME --file PATH", vaultReplaceFile},
		{"vault delete", "delete a vault item no monitor uses", vaultDelete},
		{"monitor apply", "create or update a monitor from a file (-f FILE)", monitorApply},
		{"monitor list", "list monitors", monitorList},
		{"monitor show", "show a monitor", monitorShow},
		{"monitor delete", "delete a monitor", monitorDelete},
		{"monitor pause", "stop a monitor's schedule (run still runs it on demand)", monitorPause},
		{"monitor resume", "restart a paused monitor's schedule", monitorResume},
		{"monitor mute", "stop a monitor's notifications for a while (runs go on): NAME --for D [--reason R]", monitorMute},
		{"monitor unmute", "let a muted monitor's notifications go out again", monitorUnmute},
		{"channel apply", "create or update a notification channel from a file (-f FILE)", channelApply},
		{"channel list", "list notification channels", channelList},
		{"channel show", "show a notification channel", channelShow},
		{"channel delete", "delete a channel no monitor notifies", channelDelete},
		{"channel test", "send a test notification now (exit 0 only if delivered)", channelTest},
		{"alerts", "list alerts and their notifications' delivery [--open] [--monitor M]", alertsList},
		{"run", "run a monitor now: run MONITOR [--checkpoint C] [--wait]", runMonitor},
		{"results tail", "stream results as they arrive [--monitor M] [--checkpoint C] [--failed] [--since D] [--from-start]", resultsTail},
		{"results last", "the latest result of each monitor × checkpoint [--monitor M]", resultsLast},
		{"results show", "show one run's result: steps, phases, assertions, variables (RUN_ID)", resultsShow},
		{"monitor status", "a monitor's latest result per checkpoint, uptime and p50/p95 over 24h/7d/30d", monitorStatus},
		{"checkpoint token", "create a one-time enrollment token for a checkpoint agent", checkpointToken},
		{"checkpoint list", "list checkpoints and their agent instances", checkpointList},
		{"checkpoint revoke", "revoke every agent of a checkpoint", checkpointRevoke},
		{"checkpoint delete", "delete a checkpoint no monitor names, with its revoked instances", checkpointDelete},
		{"checkpoint remove-instances", "remove revoked instances of a checkpoint [--instance AGENT_ID]", checkpointRemoveInstances},
		{"checkpoint nats-config", "print the nats-server authorization block for an external NATS deployment", checkpointNATSConfig},
		{"platform-certificate", "print the platform certificate (public part) and its fingerprint", platformCertificate},
		{"token create", "create an API token and print it alone on stdout: --name N --scope results:read|admin", tokenCreate},
		{"token list", "list API tokens (never their secrets)", tokenList},
		{"token revoke", "revoke an API token at once", tokenRevoke},
		{"audit", "read the audit log, newest entries last [--since 24h] [--actor A] [--action X] [--target T]", auditList},
	}
}

// Find returns the command named by the first one or two args and the remaining args.
func Find(args []string) (Command, []string, bool) {
	for _, c := range Commands() {
		words := strings.Fields(c.Name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == c.Name {
			return c, args[len(words):], true
		}
	}
	return Command{}, nil, false
}

// Run runs the command.
func (c Command) Run(ctx context.Context, env Env, args []string) error { return c.run(ctx, env, args) }

func newFlags(name string, env Env) *flag.FlagSet {
	fs := flag.NewFlagSet("lookout-controller "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	setUsage(fs, name)
	return fs
}

// call dials, runs fn with an admin client and a per-call deadline, and makes errors friendly.
func call(ctx context.Context, c *conn, timeout time.Duration, fn func(context.Context, pb.AdminServiceClient) error) error {
	cc, err := c.dial()
	if err != nil {
		return err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := fn(ctx, pb.NewAdminServiceClient(cc)); err != nil {
		return c.explain(err)
	}
	return nil
}

func vaultAddCertificate(ctx context.Context, env Env, args []string) error {
	fs := newFlags("vault add-certificate", env)
	var c conn
	c.register(fs, env)
	name := fs.String("name", "", "item name (or give it as the first argument)")
	file := fs.String("file", "", "PKCS#12 archive, .pfx or .p12 (required)")
	fs.StringVar(file, "f", "", "shorthand for --file")
	desc := fs.String("description", "", "free text")
	pwFile := fs.String("password-file", "", "file holding the archive password")
	pwStdin := fs.Bool("password-stdin", false, "read the archive password from stdin")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := itemNameArg(name, rest, "vault add-certificate"); err != nil {
		return err
	}
	if *file == "" {
		return usagef("--file is required: the PKCS#12 archive")
	}
	req, err := archiveRequest(env, *name, *desc, *file, *pwFile, *pwStdin)
	if err != nil {
		return err
	}
	return call(ctx, &c, 30*time.Second, func(ctx context.Context, cl pb.AdminServiceClient) error {
		resp, err := cl.AddCertificate(ctx, req)
		if err != nil {
			return passwordHint(err, *pwFile, *pwStdin)
		}
		return printAdded(env, &c, resp)
	})
}

// archiveRequest reads a PKCS#12 archive and its password the way add- and replace-certificate take
// them. An archive may have an empty password, so no password option is not an error here.
func archiveRequest(env Env, name, desc, file, pwFile string, pwStdin bool) (*pb.AddCertificateRequest, error) {
	archive, err := readCapped(file, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("--file: %w", err)
	}
	pw, err := readSecret(env, pwFile, pwStdin, "archive password")
	if err != nil {
		return nil, err
	}
	return &pb.AddCertificateRequest{Name: name, Description: desc, Archive: archive, Password: pw}, nil
}

// credentialsPassword reads a credential set's password, which must be given: without it the set
// would be stored with an empty password and fail only at run time.
func credentialsPassword(env Env, pwFile string, pwStdin bool) (string, error) {
	if pwFile == "" && !pwStdin {
		return "", usagef("no password given: pass --password-stdin (and pipe it in) or --password-file FILE")
	}
	return readSecret(env, pwFile, pwStdin, "password")
}

func readCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d KiB, the most this command accepts: check that it is the right file", path, limit>>10)
	}
	return b, nil
}

func printAdded(env Env, c *conn, resp *pb.AddVaultItemResponse) error {
	for _, w := range resp.Warnings {
		fmt.Fprintln(env.Stderr, "warning:", w)
	}
	if c.output == "json" {
		return printJSON(env.Stdout, resp)
	}
	return printItem(env.Stdout, resp.Item)
}

func vaultAddCredentials(ctx context.Context, env Env, args []string) error {
	fs := newFlags("vault add-credentials", env)
	var c conn
	c.register(fs, env)
	name := fs.String("name", "", "item name (or give it as the first argument)")
	user := fs.String("username", "", "user name (required)")
	desc := fs.String("description", "", "free text")
	pwFile := fs.String("password-file", "", "file holding the password")
	pwStdin := fs.Bool("password-stdin", false, "read the password from stdin")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := itemNameArg(name, rest, "vault add-credentials"); err != nil {
		return err
	}
	if *user == "" {
		return usagef("--username is required")
	}
	pw, err := credentialsPassword(env, *pwFile, *pwStdin)
	if err != nil {
		return err
	}
	return call(ctx, &c, 10*time.Second, func(ctx context.Context, cl pb.AdminServiceClient) error {
		resp, err := cl.AddCredentials(ctx, &pb.AddCredentialsRequest{Name: *name, Description: *desc, Username: *user, Password: pw})
		if err != nil {
			return err
		}
		return printAdded(env, &c, resp)
	})
}

func vaultList(ctx context.Context, env Env, args []string) error {
	fs := newFlags("vault list", env)
	var c conn
	c.register(fs, env)
	if err := parseNone(fs, args); err != nil {
		return err
	}
	return call(ctx, &c, 10*time.Second, func(ctx context.Context, cl pb.AdminServiceClient) error {
		resp, err := cl.ListVaultItems(ctx, &pb.ListVaultItemsRequest{})
		if err != nil {
			return err
		}
		if c.output == "json" {
			return printJSON(env.Stdout, resp)
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tTYPE\tVERSION\tUSED BY\tDETAIL")
		for _, it := range resp.Items {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", oneLine(it.Name), it.Type.Word(), it.Version, usedBy(it), oneLine(itemDetail(it)))
		}
		return tw.Flush()
	})
}

func itemDetail(it *pb.VaultItem) string {
	if ci := it.Certificate; ci != nil {
		d := fmt.Sprintf("%s, expires %s", ci.Subject, ci.NotAfter.AsTime().Format("2006-01-02"))
		if left := time.Until(ci.NotAfter.AsTime()); left < 0 {
			d += " — WARN: EXPIRED"
		} else if left < 30*24*time.Hour {
			d += fmt.Sprintf(" — WARN: expires in %d days", int(left.Hours()/24))
		}
		return d
	}
	if it.Username != "" {
		return "user " + it.Username
	}
	if fi := it.File; fi != nil {
		return fmt.Sprintf("%s, %s, %d bytes", fi.Filename, fi.ContentType, fi.Size)
	}
	return it.Description
}

func usedBy(it *pb.VaultItem) string {
	if len(it.UsedBy) == 0 {
		return "-"
	}
	return oneLine(strings.Join(it.UsedBy, ","))
}

func printItem(w io.Writer, it *pb.VaultItem) error {
	fmt.Fprintf(w, "name:     %s\nid:       %s\ntype:     %s\nversion:  %d\n", oneLine(it.Name), it.Id, it.Type.Word(), it.Version)
	if it.Username != "" {
		fmt.Fprintf(w, "username: %s\n", oneLine(it.Username))
	}
	if fi := it.File; fi != nil {
		fmt.Fprintf(w, "filename: %s\ncontent type: %s\nsize:     %d bytes\nsha256:   %s\n", oneLine(fi.Filename), oneLine(fi.ContentType), fi.Size, fi.Sha256)
	}
	if it.Description != "" {
		fmt.Fprintf(w, "description: %s\n", oneLine(it.Description))
	}
	fmt.Fprintf(w, "used by:  %s\n", usedBy(it))
	if ci := it.Certificate; ci != nil {
		fmt.Fprintf(w, "subject:  %s\nissuer:   %s\nvalid:    %s to %s\nsha256:   %s\nkey:      %s\nchain:    %d certificate(s)\nclient auth allowed: %v\n",
			oneLine(ci.Subject), oneLine(ci.Issuer), ci.NotBefore.AsTime().Format(time.RFC3339), ci.NotAfter.AsTime().Format(time.RFC3339),
			ci.Sha256Fingerprint, oneLine(ci.KeyType), ci.ChainLength, ci.ClientAuthAllowed)
		if len(ci.Sans) > 0 {
			fmt.Fprintf(w, "SANs:     %s\n", oneLine(strings.Join(ci.Sans, ", ")))
		}
	}
	return nil
}

func oneName(fs *flag.FlagSet, args []string, what string) (string, error) {
	pos, err := parse(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", usagef("give exactly one %s name", what)
	}
	return pos[0], nil
}

func vaultShow(ctx context.Context, env Env, args []string) error {
	fs := newFlags("vault show", env)
	var c conn
	c.register(fs, env)
	name, err := oneName(fs, args, "item")
	if err != nil {
		return err
	}
	return call(ctx, &c, 10*time.Second, func(ctx context.Context, cl pb.AdminServiceClient) error {
		it, err := cl.GetVaultItem(ctx, &pb.GetVaultItemRequest{Name: name})
		if err != nil {
			return err
		}
		if c.output == "json" {
			return printJSON(env.Stdout, it)
		}
		return printItem(env.Stdout, it)
	})
}

func vaultDelete(ctx context.Context, env Env, args []string) error {
	fs := newFlags("vault delete", env)
	var c conn
	c.register(fs, env)
	name, err := oneName(fs, args, "item")
	if err != nil {
		return err
	}
	return call(ctx, &c, 10*time.Second, func(ctx context.Context, cl pb.AdminServiceClient) error {
		if _, err := cl.DeleteVaultItem(ctx, &pb.DeleteVaultItemRequest{Name: name}); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "deleted vault item %s\n", name)
		return nil
	})
}

func monitorApply(ctx context.Context, env Env, args []string) error {
	fs := newFlags("monitor apply", env)
	var c conn
	c.register(fs, env)
	file := fs.String("f", "", "monitor file (required)")
	fs.StringVar(file, "file", "", "same as -f")
	format := fs.String("format", "lookout", "file format: lookout, or uptrends (an Uptrends MultiStepApi monitor, or an array of them, as their API returns it)")
	paused := fs.Bool("paused", false, "store the monitor paused: it runs only once resumed with 'monitor resume'")
	var up uptrendsFlags
	up.register(fs, true)
	if err := parseNone(fs, args); err != nil {
		return err
	}
	if *file == "" {
		return usagef("-f FILE is required")
	}
	switch *format {
	case "uptrends":
		return applyUptrends(ctx, env, &c, *file, *paused, up)
	case "lookout":
	default:
		return usagef("--format must be lookout or uptrends, not %q", *format)
	}
	if up.used() {
		return usagef("--dry-run, --bind and --checkpoint-map go with --format uptrends")
	}
	src, err := readCapped(*file, 1<<20)
	if err != nil {
		return fmt.Errorf("-f: %w", err)
	}
	return call(ctx, &c, 10*time.Second, func(ctx context.Context, cl pb.AdminServiceClient) error {
		resp, err := cl.ApplyMonitor(ctx, &pb.ApplyMonitorRequest{Source: src, Format: *format, Filename: *file, Paused: *paused})
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
		state := ""
		if resp.Monitor.Paused {
			state = ", paused"
		}
		fmt.Fprintf(env.Stdout, "monitor %s %s (version %d%s)\n", resp.Monitor.Name, verb, resp.Monitor.Version, state)
		return nil
	})
}

func monitorList(ctx context.Context, env Env, args []string) error {
	fs := newFlags("monitor list", env)
	var c conn
	c.register(fs, env)
	if err := parseNone(fs, args); err != nil {
		return err
	}
	return call(ctx, &c, 10*time.Second, func(ctx context.Context, cl pb.AdminServiceClient) error {
		resp, err := cl.ListMonitors(ctx, &pb.ListMonitorsRequest{})
		if err != nil {
			return err
		}
		if c.output == "json" {
			return printJSON(env.Stdout, resp)
		}
		states := monitorStates(ctx, &c)
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tSTATE\tALERTING\tINTERVAL\tSTEPS\tCHECKPOINTS\tVERSION")
		for _, m := range resp.Monitors {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%d\n", oneLine(m.Name), monitorState(m), alertingWord(states[m.Name]), m.Interval.AsDuration(), len(m.Steps), oneLine(strings.Join(m.Checkpoints, ",")), m.Version)
		}
		return tw.Flush()
	})
}

func monitorShow(ctx context.Context, env Env, args []string) error {
	fs := newFlags("monitor show", env)
	var c conn
	c.register(fs, env)
	format := fs.String("format", "lookout", "lookout (a monitor file) or uptrends (Uptrends API JSON; notes on stderr name what it cannot hold)")
	var up uptrendsFlags
	up.register(fs, false)
	name, err := oneName(fs, args, "monitor")
	if err != nil {
		return err
	}
	switch *format {
	case "uptrends":
		return showUptrends(ctx, env, &c, name, up)
	case "lookout":
	default:
		return usagef("--format must be lookout or uptrends, not %q", *format)
	}
	return call(ctx, &c, 10*time.Second, func(ctx context.Context, cl pb.AdminServiceClient) error {
		m, err := cl.GetMonitor(ctx, &pb.GetMonitorRequest{Name: name})
		if err != nil {
			return err
		}
		if c.output == "json" {
			return printJSON(env.Stdout, m)
		}
		return printMonitorFile(env.Stdout, m)
	})
}

func monitorDelete(ctx context.Context, env Env, args []string) error {
	fs := newFlags("monitor delete", env)
	var c conn
	c.register(fs, env)
	name, err := oneName(fs, args, "monitor")
	if err != nil {
		return err
	}
	return call(ctx, &c, 10*time.Second, func(ctx context.Context, cl pb.AdminServiceClient) error {
		if _, err := cl.DeleteMonitor(ctx, &pb.DeleteMonitorRequest{Name: name}); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "deleted monitor %s\n", name)
		return nil
	})
}

func checkpointToken(ctx context.Context, env Env, args []string) error {
	fs := newFlags("checkpoint token", env)
	var c conn
	c.register(fs, env)
	name := fs.String("name", "", "checkpoint name (required); created if new")
	kind := fs.String("kind", "", "public (run by you; may use the platform certificate) or private (run by a customer) (required)")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token stays valid")
	uses := fs.Int("uses", 1, "how many agent instances may enrol with it, each with its own identity (a StatefulSet's replicas)")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	k, ok := map[string]pb.CheckpointKind{"public": pb.CheckpointKind_CHECKPOINT_KIND_PUBLIC, "private": pb.CheckpointKind_CHECKPOINT_KIND_PRIVATE}[*kind]
	switch {
	case *name == "" || *kind == "":
		return usagef("--name and --kind public|private are required")
	case !ok:
		return usagef("--kind must be public or private, not %q", *kind)
	}
	return call(ctx, &c, 10*time.Second, func(ctx context.Context, cl pb.AdminServiceClient) error {
		resp, err := cl.CreateEnrollmentToken(ctx, &pb.CreateEnrollmentTokenRequest{CheckpointName: *name, Kind: k, Ttl: durationpb.New(*ttl), Uses: int32(*uses)})
		if err != nil {
			return err
		}
		if c.output == "json" {
			return printJSON(env.Stdout, resp)
		}
		fmt.Fprintln(env.Stdout, resp.Token)
		return nil
	})
}

func checkpointList(ctx context.Context, env Env, args []string) error {
	fs := newFlags("checkpoint list", env)
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
		if c.output == "json" {
			return printJSON(env.Stdout, resp)
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CHECKPOINT\tKIND\tAGENT\tINSTANCE\tSTATUS\tLAST SEEN\tVERSION\tIN FLIGHT\tSPOOLED\tCERT EXPIRES\tTOKEN USES LEFT")
		now := time.Now()
		for _, cp := range resp.Checkpoints {
			kind := strings.ToLower(strings.TrimPrefix(cp.Kind.String(), "CHECKPOINT_KIND_"))
			if len(cp.Agents) == 0 {
				fmt.Fprintf(tw, "%s\t%s\t-\t-\tno agents\t-\t-\t-\t-\t-\t%d\n", oneLine(cp.Name), kind, cp.EnrollmentsLeft)
			}
			sort.Slice(cp.Agents, func(i, j int) bool { return cp.Agents[i].Id < cp.Agents[j].Id })
			for _, ag := range cp.Agents {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%d\n", oneLine(cp.Name), kind, oneLine(ag.Id), orDash(oneLine(ag.InstanceName)), instanceState(ag),
					ago(now, ag.LastSeen.AsTime()), orDash(oneLine(ag.Version)), inFlight(ag), ag.SpooledResults, certExpiry(now, ag.CertificateNotAfter), cp.EnrollmentsLeft)
			}
		}
		return tw.Flush()
	})
}

func checkpointRevoke(ctx context.Context, env Env, args []string) error {
	fs := newFlags("checkpoint revoke", env)
	var c conn
	c.register(fs, env)
	name, err := oneName(fs, args, "checkpoint")
	if err != nil {
		return err
	}
	return call(ctx, &c, 10*time.Second, func(ctx context.Context, cl pb.AdminServiceClient) error {
		resp, err := cl.RevokeCheckpoint(ctx, &pb.RevokeCheckpointRequest{Name: name})
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "revoked %d agent(s) of checkpoint %s\n", resp.AgentsRevoked, name)
		return nil
	})
}

func platformCertificate(ctx context.Context, env Env, args []string) error {
	fs := newFlags("platform-certificate", env)
	var c conn
	c.register(fs, env)
	if err := parseNone(fs, args); err != nil {
		return err
	}
	return call(ctx, &c, 10*time.Second, func(ctx context.Context, cl pb.AdminServiceClient) error {
		resp, err := cl.GetPlatformCertificate(ctx, &pb.GetPlatformCertificateRequest{})
		if err != nil {
			return err
		}
		if c.output == "json" {
			return printJSON(env.Stdout, resp)
		}
		if !resp.Configured {
			return fmt.Errorf("no platform certificate is configured on this controller (start it with --platform-cert-file)")
		}
		fmt.Fprintf(env.Stdout, "subject: %s\nissuer:  %s\nexpires: %s\nsha256:  %s\n\n%s", oneLine(resp.Info.Subject), oneLine(resp.Info.Issuer),
			resp.Info.NotAfter.AsTime().Format(time.RFC3339), resp.Info.Sha256Fingerprint, resp.CertificatePem)
		return nil
	})
}
