// Command lookout-bench prints Lookout's benchmark figures, each measured
// side by side with its baseline in the same run. See docs/benchmarks.md.
package main

import (
	"fmt"
	"os"

	"github.com/lookout-synthetics/lookout/internal/bench"
)

func main() {
	if err := bench.Run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "lookout-bench:", err)
		os.Exit(1)
	}
}
