package cli

import (
	"context"
	"time"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// vaultReplaceCertificate: vault replace-certificate NAME -f archive.p12 [--password-stdin]
func vaultReplaceCertificate(ctx context.Context, env Env, args []string) error {
	fs := newFlags("vault replace-certificate", env)
	var c conn
	c.register(fs, env)
	name := fs.String("name", "", "item to replace (or give it as the first argument)")
	file := fs.String("file", "", "new PKCS#12 archive, .pfx or .p12 (required)")
	fs.StringVar(file, "f", "", "shorthand for --file")
	desc := fs.String("description", "", "new free text (empty keeps the old one)")
	pwFile := fs.String("password-file", "", "file holding the archive password")
	pwStdin := fs.Bool("password-stdin", false, "read the archive password from stdin")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := itemNameArg(name, rest, "vault replace-certificate"); err != nil {
		return err
	}
	if *file == "" {
		return usagef("--file is required: the new PKCS#12 archive")
	}
	req, err := archiveRequest(env, *name, *desc, *file, *pwFile, *pwStdin)
	if err != nil {
		return err
	}
	return call(ctx, &c, 30*time.Second, func(ctx context.Context, cl pb.AdminServiceClient) error {
		resp, err := cl.ReplaceCertificate(ctx, req)
		if err != nil {
			return passwordHint(err, *pwFile, *pwStdin)
		}
		return printAdded(env, &c, resp)
	})
}

// vaultReplaceCredentials: vault replace-credentials NAME --username U [--password-stdin]
func vaultReplaceCredentials(ctx context.Context, env Env, args []string) error {
	fs := newFlags("vault replace-credentials", env)
	var c conn
	c.register(fs, env)
	name := fs.String("name", "", "item to replace (or give it as the first argument)")
	user := fs.String("username", "", "user name (required)")
	desc := fs.String("description", "", "new free text (empty keeps the old one)")
	pwFile := fs.String("password-file", "", "file holding the password")
	pwStdin := fs.Bool("password-stdin", false, "read the password from stdin")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := itemNameArg(name, rest, "vault replace-credentials"); err != nil {
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
		resp, err := cl.ReplaceCredentials(ctx, &pb.AddCredentialsRequest{Name: *name, Description: *desc, Username: *user, Password: pw})
		if err != nil {
			return err
		}
		return printAdded(env, &c, resp)
	})
}
