package e2e

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// TestControllerAnswersWhileArchivesDecode: archives at the iteration cap cost about a second of
// CPU each to decode. While several are being uploaded at once (more than the decode slots), the
// controller keeps answering other calls, a busy upload is refused with a message saying to try
// again rather than queued without bound, and an archive over the cap is refused outright. Nothing
// here measures time: the test counts calls that completed while uploads were still running.
func TestControllerAnswersWhileArchivesDecode(t *testing.T) {
	dir := t.TempDir()
	c := testutil.StartController(t, filepath.Join(dir, "data"))
	ca := testutil.NewCA(t, "heavy upload CA")
	leaf := ca.Issue(t, "heavy", false)
	// Modern2023 derives three keys (MAC, key bag, certificate bag): 3 × 600,000 iterations sits
	// under the 2,000,000 total.
	heavy, err := pkcs12.Modern2023.WithIterations(600_000).Encode(leaf.Key, leaf.Cert, []*x509.Certificate{ca.Cert}, "heavy-pw")
	if err != nil {
		t.Fatal(err)
	}
	archive := testutil.WriteFile(t, dir, "heavy.p12", heavy)

	const uploads = 4
	var running atomic.Int32
	running.Store(uploads)
	var wg sync.WaitGroup
	outs := make([]string, uploads)
	errs := make([]error, uploads)
	for i := range uploads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer running.Add(-1)
			cmd := exec.Command(c.Bin, "vault", "add-certificate", "--name", fmt.Sprint("heavy-", i), "--file", archive, "--password-stdin",
				"--addr", c.Addr, "--ca-file", c.CAFile, "--token-file", c.TokenFile)
			cmd.Stdin = strings.NewReader("heavy-pw\n")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			errs[i] = cmd.Run()
			outs[i] = out.String()
		}()
	}
	answered := 0
	for running.Load() > 0 {
		c.MustCLI(t, "", "monitor", "list")
		c.MustCLI(t, "", "checkpoint", "list")
		if running.Load() > 0 {
			answered++
		}
	}
	wg.Wait()
	if answered == 0 {
		t.Error("no other call completed while the uploads were decoding")
	}
	stored := 0
	for i := range uploads {
		switch {
		case errs[i] == nil:
			stored++
		case strings.Contains(outs[i], "try again"):
		default:
			t.Errorf("upload %d failed without saying to try again: %v\n%s", i, errs[i], outs[i])
		}
	}
	if stored == 0 {
		t.Error("no upload was stored")
	}
	list := c.MustCLI(t, "", "vault", "list")
	if got := strings.Count(list, "heavy-"); got != stored {
		t.Errorf("vault list shows %d archives, %d uploads succeeded:\n%s", got, stored, list)
	}
	t.Logf("%d uploads: %d stored, %d told to try again; %d other-call rounds answered meanwhile", uploads, stored, uploads-stored, answered)

	// Over the cap: refused before any decoding, with the cap in the message.
	over, err := pkcs12.Modern2023.WithIterations(700_000).Encode(leaf.Key, leaf.Cert, nil, "heavy-pw")
	if err != nil {
		t.Fatal(err)
	}
	r := c.CLI(t, "heavy-pw\n", "vault", "add-certificate", "--name", "over", "--file", testutil.WriteFile(t, dir, "over.p12", over), "--password-stdin")
	if r.Code == 0 || !strings.Contains(r.Stderr, "the limit is 600000 per derivation") {
		t.Errorf("an archive over the iteration cap: exit %d\n%s", r.Code, r.Stderr)
	}
}
