package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

const (
	capDelay    = 50 * time.Millisecond // the capacity target answers after this
	capWindow   = 2 * time.Second
	capKeepRuns = 3 // steps per run in the keep-alive mode
)

var capPairs = flag.Int("capacity-pairs", 1, "runner/bare pairs per capacity configuration, the order alternating (each pair takes 6 s)")

// answered records when the capacity target answered each request, so that a side's steps/s are
// counted over its window whatever the length of its runs.
type answered struct {
	mu sync.Mutex
	at []time.Time
}

func (a *answered) handler(w http.ResponseWriter, r *http.Request) {
	time.Sleep(capDelay)
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"status":"ok"}`)
	a.mu.Lock()
	a.at = append(a.at, time.Now())
	a.mu.Unlock()
}

// within counts the answers in [from, to) and forgets them all.
func (a *answered) within(from, to time.Time) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, t := range a.at {
		if !t.Before(from) && t.Before(to) {
			n++
		}
	}
	a.at = a.at[:0]
	return n
}

// capConfig is one capacity configuration: runs in flight, and steps per run (1: every step on a
// new connection; more: the steps of a run share one, as the runner's pool lives for a run).
type capConfig struct {
	inflight, steps int
}

func (c capConfig) mode() string {
	if c.steps == 1 {
		return "newconn"
	}
	return "keepalive"
}

// capSample is what one child process reported.
type capSample struct {
	stepsPerS, rssMiB float64
}

// capacity runs the agent's runner and the bare client, each in a child process of its own, with
// 100 and 500 runs in flight against a target that answers after 50 ms, and prints steps/s,
// their ratio and the runner's peak RSS.
func capacity(k *pki) error {
	ans := &answered{}
	srv := k.target(http.HandlerFunc(ans.handler))
	defer srv.Close()
	dir, err := os.MkdirTemp("", "lookout-runner-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	files, err := k.write(dir)
	if err != nil {
		return err
	}
	fmt.Printf("\n%-34s %10s %10s %10s %8s %8s\n", "capacity (50 ms target)", "runner/s", "bare/s", "ratio", "rss MiB", "bare MiB")
	ratio := map[int]float64{}
	var rss500, bareRSS500 float64 // peak RSS of each side at 500 in flight
	var lines []string
	for _, inflight := range []int{100, 500} {
		for _, c := range []capConfig{{inflight, 1}, {inflight, capKeepRuns}} {
			run, bare, r, err := capPairsOf(c, ans, srv.URL+"/slow", files)
			if err != nil {
				return fmt.Errorf("%d in flight, %s: %w", c.inflight, c.mode(), err)
			}
			name := fmt.Sprintf("agent_capacity_ratio_%d_%s", c.inflight, c.mode())
			fmt.Printf("%-34s %10.0f %10.0f %10.2f %8.1f %8.1f\n", name, run.stepsPerS, bare.stepsPerS, r, run.rssMiB, bare.rssMiB)
			lines = append(lines, fmt.Sprintf("agent_steps_per_s_%d_%s=%.0f", c.inflight, c.mode(), run.stepsPerS),
				fmt.Sprintf("bare_steps_per_s_%d_%s=%.0f", c.inflight, c.mode(), bare.stepsPerS), fmt.Sprintf("%s=%.2f", name, r))
			if old, ok := ratio[inflight]; !ok || r < old {
				ratio[inflight] = r
			}
			if inflight == 500 {
				rss500, bareRSS500 = max(rss500, run.rssMiB), max(bareRSS500, bare.rssMiB)
			}
		}
	}
	fmt.Println(strings.Join(lines, "\n"))
	fmt.Printf("agent_capacity_ratio_100=%.2f\nagent_capacity_ratio_500=%.2f\n", ratio[100], ratio[500])
	fmt.Printf("agent_rss_mib_500=%.1f\nbare_rss_mib_500=%.1f\n", rss500, bareRSS500)
	return nil
}

// capPairsOf measures c capPairs times on each side, alternating which goes first, and returns the
// mean of each side and the mean of the pairs' ratios (runner over bare).
func capPairsOf(c capConfig, ans *answered, url string, f pkiFiles) (run, bare capSample, ratio float64, err error) {
	n := float64(*capPairs)
	for i := range *capPairs {
		sides := []string{"runner", "bare"}
		if i%2 == 1 {
			sides[0], sides[1] = sides[1], sides[0]
		}
		got := map[string]capSample{}
		for _, side := range sides {
			if got[side], err = capChild(side, c, ans, url, f); err != nil {
				return run, bare, 0, err
			}
		}
		run.stepsPerS += got["runner"].stepsPerS / n
		bare.stepsPerS += got["bare"].stepsPerS / n
		run.rssMiB = max(run.rssMiB, got["runner"].rssMiB)
		bare.rssMiB = max(bare.rssMiB, got["bare"].rssMiB)
		ratio += got["runner"].stepsPerS / got["bare"].stepsPerS / n
	}
	return run, bare, ratio, nil
}

// capChild runs one side of c in a child process (this binary with -child).
func capChild(side string, c capConfig, ans *answered, url string, f pkiFiles) (capSample, error) {
	self, err := os.Executable()
	if err != nil {
		return capSample{}, err
	}
	cmd := exec.Command(self, "-child", side, "-child-steps", fmt.Sprint(c.steps), "-child-inflight", fmt.Sprint(c.inflight),
		"-child-for", capWindow.String(), "-child-url", url, "-child-pki", strings.Join([]string{f.ca, f.cert, f.key}, ","))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return capSample{}, fmt.Errorf("%s child: %w", side, err)
	}
	var from, to int64
	var rss float64
	if _, err := fmt.Sscanf(string(out), "from=%d to=%d rss_mib=%f", &from, &to, &rss); err != nil {
		return capSample{}, fmt.Errorf("%s child said %q: %w", side, out, err)
	}
	steps := ans.within(time.Unix(0, from), time.Unix(0, to))
	return capSample{stepsPerS: float64(steps) / time.Duration(to-from).Seconds(), rssMiB: rss}, nil
}
