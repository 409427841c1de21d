package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A secret file left readable by others (admin.token, ca.key) stops the start with the chmod that
// fixes it, as master.key does; an existing data dir left open is made private.
func TestStartChecksSecretFileModesAndTightensDataDir(t *testing.T) {
	ctx := context.Background()
	for _, file := range []string{"admin.token", "ca.key"} {
		t.Run(file, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Start(ctx, Options{DataDir: dir, GRPCListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Logger: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			path := filepath.Join(dir, file)
			if err := os.Chmod(path, 0o644); err != nil {
				t.Fatal(err)
			}
			s, err = Start(ctx, Options{DataDir: dir, GRPCListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Logger: quiet()})
			if err == nil {
				s.Close()
				t.Fatalf("Start accepted %s with mode 0644", file)
			}
			if want := "chmod 600 " + path; !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q does not say %q", err, want)
			}
		})
	}
	t.Run("data dir", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o755); err != nil { // whatever the umask
			t.Fatal(err)
		}
		s, err := Start(ctx, Options{DataDir: dir, GRPCListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		info, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != 0o700 {
			t.Fatalf("data dir mode after start = %04o, want 0700", got)
		}
	})
}
