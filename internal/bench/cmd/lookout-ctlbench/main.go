// Command lookout-ctlbench prints the controller's throughput, latency, CPU, memory and scale
// figures: a real lookout-controller process, simulated agents answering at once, a real idle
// lookout-agent. See docs/benchmarks.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/lookout-synthetics/lookout/internal/bench/ctl"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "lookout-ctlbench:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("lookout-ctlbench", flag.ContinueOnError)
	var o ctl.Options
	fs.IntVar(&o.Rounds, "rounds", 3, "repetitions of each phase")
	fs.IntVar(&o.PacedRate, "rate", 2000, "runs/s offered in the latency phase")
	fs.IntVar(&o.Offered, "offered", 12000, "runs/s the scheduler offers in the throughput phase")
	fs.IntVar(&o.Checkpoints, "checkpoints", 16, "simulated checkpoints; every load monitor runs on all of them")
	fs.StringVar(&o.ProfileDir, "profile", "", "write the controller's CPU profile, execution trace and allocations (first round of each phase) to this directory; tracing slows that round, so read its figures as perturbed")
	fs.StringVar(&o.LatencyDir, "latencies", "", "write every run of each latency phase (dispatch time, latency by stage) to a file in this directory")
	sizes := fs.String("sizes", "100,1000,10000", "monitor counts of the scale curve, comma-separated, ascending")
	quiet := fs.Bool("q", false, "no progress lines on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for f := range strings.SplitSeq(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("-sizes: %q is not a positive count", f)
		}
		o.Sizes = append(o.Sizes, n)
	}
	if !*quiet {
		o.Log = stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return ctl.Run(ctx, stdout, o)
}
