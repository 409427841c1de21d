package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Each start-up mistake an operator makes must come back as an error that names the cause, not a
// panic, and must leave nothing held (a failed start releases the data file and its listeners).
func TestStartFailuresAreErrorsThatNameTheCause(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	first, err := Start(ctx, Options{DataDir: dir, GRPCListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	looseKey := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(looseKey, make([]byte, 32), 0o644); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		o    Options
		want string
	}{
		{"same data dir", Options{DataDir: dir, GRPCListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0"}, "in use by another process"},
		{"NATS port taken", Options{DataDir: t.TempDir(), GRPCListen: "127.0.0.1:0", NATSListen: taken.Addr().String()}, "--nats-listen"},
		{"gRPC port taken", Options{DataDir: t.TempDir(), GRPCListen: taken.Addr().String(), NATSListen: "127.0.0.1:0"}, taken.Addr().String()},
		{"missing master key", Options{DataDir: t.TempDir(), MasterKeyFile: filepath.Join(t.TempDir(), "none"), GRPCListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0"}, "master key"},
		{"master key readable by others", Options{DataDir: t.TempDir(), MasterKeyFile: looseKey, GRPCListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0"}, "chmod 600"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.o.Logger = quiet()
			s, err := Start(ctx, c.o)
			if err == nil {
				s.Close()
				t.Fatalf("Start succeeded, want an error mentioning %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
		})
	}

	// The failed starts released everything: a second controller can take a fresh dir and the
	// first one still answers.
	second, err := Start(ctx, Options{DataDir: t.TempDir(), GRPCListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Logger: quiet()})
	if err != nil {
		t.Fatalf("start after failures: %v", err)
	}
	second.Close()
}
