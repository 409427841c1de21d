package cli_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/lookout-synthetics/lookout/controller/internal/cli"
	"github.com/lookout-synthetics/lookout/controller/internal/server"
	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// TestCheckpointListShowsNoTerminalEscapes: an agent record written before instance names and
// versions were checked (or by any other way round the check) holds a screen clear, an OSC
// title and an OSC 8 link. `checkpoint list` shows them escaped, on one row.
const legacyToken = "lkt_legacy-agent-record-for-the-escape-test-0123456789"

func TestCheckpointListShowsNoTerminalEscapes(t *testing.T) {
	dir := t.TempDir()
	start := func() *server.Server {
		s, err := server.Start(context.Background(), server.Options{DataDir: dir, GRPCListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0",
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	start().Close() // makes the data dir: CA, token, database
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := st.EnsureCheckpoint("site-a", pb.CheckpointKind_CHECKPOINT_KIND_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateToken(legacyToken, cp.Id, time.Hour); err != nil {
		t.Fatal(err)
	}
	hostile := store.Agent{ID: "ag_legacy", InstanceName: "box\x1b[2J\x1b]0;owned\x07", Version: "\x1b]8;;https://evil.test/\x07v1\x1b]8;;\x07\u009b31m",
		CertNotAfter: time.Now().Add(time.Hour)}
	if _, err := st.RedeemToken(legacyToken, hostile); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	s := start()
	defer s.Close()

	var out, errOut bytes.Buffer
	env := cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(k string) string {
		return map[string]string{"LOOKOUT_ADDR": s.Addr(), "LOOKOUT_TOKEN_FILE": s.TokenFile, "LOOKOUT_CA_FILE": s.CAFile}[k]
	}}
	cmd, args, ok := cli.Find([]string{"checkpoint", "list"})
	if !ok {
		t.Fatal("no checkpoint list command")
	}
	if err := cmd.Run(t.Context(), env, args); err != nil {
		t.Fatalf("checkpoint list: %v\n%s", err, errOut.String())
	}
	got := out.String()
	if strings.ContainsAny(got, "\x1b\x07\u009b") {
		t.Fatalf("control characters reached the terminal:\n%q", got)
	}
	if rows := strings.Count(got, "\n"); rows != 2 {
		t.Errorf("output has %d lines, want a header and one row:\n%s", rows, got)
	}
	for _, want := range []string{`box\x1b[2J\x1b]0;owned\a`, `\x1b]8;;https://evil.test/\av1`} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks the escaped form %q:\n%s", want, got)
		}
	}
}
