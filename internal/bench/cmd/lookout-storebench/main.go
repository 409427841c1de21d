// Command lookout-storebench prints the bytes the controller's bbolt file holds per stored
// result, passing and failing, beside the size of the result itself. See docs/benchmarks.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/lookout-synthetics/lookout/internal/bench/ctl"
)

func main() {
	var o ctl.StorageOptions
	flag.IntVar(&o.Runs, "runs", 1000, "results of each kind stored and measured")
	quiet := flag.Bool("q", false, "no progress lines on stderr")
	flag.Parse()
	if !*quiet {
		o.Log = os.Stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := ctl.Storage(ctx, os.Stdout, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "lookout-storebench:", err)
		os.Exit(1)
	}
}
