package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lookout-synthetics/lookout/controller/internal/cli"
	"github.com/lookout-synthetics/lookout/controller/internal/store"
	"github.com/lookout-synthetics/lookout/controller/internal/vault"
)

// rotateMasterKey is the offline command `vault rotate-master-key`: it re-wraps the vault's
// keyring in the data dir under a new master key. The controller must be stopped (the data
// file's lock makes sure of it).
func rotateMasterKey(_ context.Context, args []string, env cli.Env) error {
	fs := flag.NewFlagSet("lookout-controller vault rotate-master-key", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	dataDir := fs.String("data-dir", "", "the stopped controller's data directory (required)")
	oldFile := fs.String("master-key-file", "", "the current master key (default: <data-dir>/master.key)")
	newFile := fs.String("new-key-file", "", "the new master key, mode 0600; created with a random key if missing (required)")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &cli.UsageError{Msg: fmt.Sprintf("vault rotate-master-key: unexpected argument %q", fs.Arg(0))}
	}
	if *dataDir == "" || *newFile == "" {
		return &cli.UsageError{Msg: "vault rotate-master-key: --data-dir and --new-key-file are required"}
	}
	if *oldFile == "" {
		*oldFile = filepath.Join(*dataDir, "master.key")
	}
	if abs(*oldFile) == abs(*newFile) {
		return &cli.UsageError{Msg: "vault rotate-master-key: --new-key-file must be another file than the current master key"}
	}
	if _, err := os.Stat(filepath.Join(*dataDir, "lookout.db")); err != nil {
		return fmt.Errorf("--data-dir: no controller data in %s (%w)", *dataDir, err)
	}
	oldKey, err := vault.LoadMasterKey(*oldFile, false)
	if err != nil {
		return fmt.Errorf("--master-key-file: %w", err)
	}
	_, statErr := os.Stat(*newFile)
	created := errors.Is(statErr, os.ErrNotExist)
	newKey, err := vault.LoadMasterKey(*newFile, true)
	if err != nil {
		return fmt.Errorf("--new-key-file: %w", err)
	}
	st, err := store.Open(*dataDir)
	if err != nil {
		return err
	}
	err = vault.RotateMasterKey(st.DB(), oldKey, newKey)
	clear(oldKey)
	clear(newKey)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("rotating the master key: %w", err)
	}
	if created {
		fmt.Fprintf(env.Stdout, "created a new master key in %s\n", *newFile)
	}
	fmt.Fprintf(env.Stdout, "the vault keyring in %s is now wrapped by %s; start the controller with --master-key-file %s, back that file up, and destroy the old key %s\n",
		*dataDir, *newFile, *newFile, *oldFile)
	return nil
}

func abs(path string) string {
	if a, err := filepath.Abs(path); err == nil {
		return filepath.Clean(a)
	}
	return path
}
