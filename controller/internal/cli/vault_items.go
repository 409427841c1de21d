package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/lookout-synthetics/lookout/controller/internal/vault"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// vaultAddSecret: vault add-secret NAME [--value-file PATH] (else the value is read from stdin)
func vaultAddSecret(ctx context.Context, env Env, args []string) error {
	return vaultSecret(ctx, env, args, "vault add-secret", func(ctx context.Context, cl pb.AdminServiceClient, req *pb.AddSecretRequest) (*pb.AddVaultItemResponse, error) {
		return cl.AddSecret(ctx, req)
	})
}

// vaultReplaceSecret: vault replace-secret NAME [--value-file PATH]
func vaultReplaceSecret(ctx context.Context, env Env, args []string) error {
	return vaultSecret(ctx, env, args, "vault replace-secret", func(ctx context.Context, cl pb.AdminServiceClient, req *pb.AddSecretRequest) (*pb.AddVaultItemResponse, error) {
		return cl.ReplaceSecret(ctx, req)
	})
}

func vaultSecret(ctx context.Context, env Env, args []string, cmd string,
	send func(context.Context, pb.AdminServiceClient, *pb.AddSecretRequest) (*pb.AddVaultItemResponse, error)) error {
	fs := newFlags(cmd, env)
	var c conn
	c.register(fs, env)
	name := fs.String("name", "", "item name (or give it as the first argument)")
	desc := fs.String("description", "", "free text")
	valueFile := fs.String("value-file", "", "file holding the secret value (default: read it from standard input)")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := itemNameArg(name, rest, cmd); err != nil {
		return err
	}
	value, err := readSecretValue(env, *valueFile)
	if err != nil {
		return err
	}
	req := &pb.AddSecretRequest{Name: *name, Description: *desc, Value: value}
	return call(ctx, &c, 10*time.Second, func(ctx context.Context, cl pb.AdminServiceClient) error {
		resp, err := send(ctx, cl, req)
		if err != nil {
			return err
		}
		return printAdded(env, &c, resp)
	})
}

// readSecretValue reads a secret from a file or standard input, never from the command line
// (argv shows in ps), and drops one trailing newline, which editors and echo add.
func readSecretValue(env Env, file string) (string, error) {
	var r io.Reader = env.Stdin
	what := "standard input"
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("--value-file: %w", err)
		}
		defer f.Close()
		r, what = f, file
	}
	if r == nil {
		return "", usagef("no secret value: pipe it in on standard input or give --value-file PATH")
	}
	// Read a little past the cap so the vault, not a silent cut, refuses a value that is too long.
	b, err := io.ReadAll(io.LimitReader(r, vault.MaxSecretSize+3))
	if err != nil {
		return "", fmt.Errorf("reading the secret value from %s: %w", what, err)
	}
	s := string(b)
	if t, ok := strings.CutSuffix(s, "\n"); ok {
		s = strings.TrimSuffix(t, "\r")
	}
	return s, nil
}

// vaultAddFile: vault add-file NAME --file PATH [--filename F] [--content-type T]
func vaultAddFile(ctx context.Context, env Env, args []string) error {
	return vaultFile(ctx, env, args, "vault add-file", func(ctx context.Context, cl pb.AdminServiceClient, req *pb.AddFileRequest) (*pb.AddVaultItemResponse, error) {
		return cl.AddFile(ctx, req)
	})
}

// vaultReplaceFile: vault replace-file NAME --file PATH [--filename F] [--content-type T]
func vaultReplaceFile(ctx context.Context, env Env, args []string) error {
	return vaultFile(ctx, env, args, "vault replace-file", func(ctx context.Context, cl pb.AdminServiceClient, req *pb.AddFileRequest) (*pb.AddVaultItemResponse, error) {
		return cl.ReplaceFile(ctx, req)
	})
}

func vaultFile(ctx context.Context, env Env, args []string, cmd string,
	send func(context.Context, pb.AdminServiceClient, *pb.AddFileRequest) (*pb.AddVaultItemResponse, error)) error {
	fs := newFlags(cmd, env)
	var c conn
	c.register(fs, env)
	name := fs.String("name", "", "item name (or give it as the first argument)")
	file := fs.String("file", "", "the file to store, at most 1 MiB (required)")
	fs.StringVar(file, "f", "", "shorthand for --file")
	filename := fs.String("filename", "", "file name sent in multipart parts (default: the item name; replace keeps the old one)")
	contentType := fs.String("content-type", "", "media type (default: sniffed from the content)")
	desc := fs.String("description", "", "free text")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := itemNameArg(name, rest, cmd); err != nil {
		return err
	}
	if *file == "" {
		return usagef("--file is required: the file to store in the vault")
	}
	content, err := readFileItem(*file)
	if err != nil {
		return err
	}
	req := &pb.AddFileRequest{Name: *name, Description: *desc, Filename: *filename, ContentType: *contentType, Content: content}
	return call(ctx, &c, 30*time.Second, func(ctx context.Context, cl pb.AdminServiceClient) error {
		resp, err := send(ctx, cl, req)
		if err != nil {
			return err
		}
		return printAdded(env, &c, resp)
	})
}

func readFileItem(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("--file: %s does not exist", path)
	} else if err != nil {
		return nil, fmt.Errorf("--file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, vault.MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("--file: reading %s: %w", path, err)
	}
	if len(b) > vault.MaxFileSize {
		return nil, fmt.Errorf("--file: %s is larger than 1 MiB, the most a vault file item may hold", path)
	}
	return b, nil
}

// itemNameArg takes the item name from --name or the single positional argument.
func itemNameArg(name *string, rest []string, cmd string) error {
	switch {
	case len(rest) > 1:
		return usagef("give one item name, not %d", len(rest))
	case len(rest) == 1 && *name != "" && *name != rest[0]:
		return usagef("the item is named twice (%q and --name %q): give it once", rest[0], *name)
	case len(rest) == 1:
		*name = rest[0]
	}
	if *name == "" {
		return usagef("name the item: %s NAME (or --name NAME)", cmd)
	}
	return nil
}
