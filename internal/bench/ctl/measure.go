package ctl

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// results holds every round's sample per figure key, in the order the keys were first seen.
type results struct {
	keys    []string
	samples map[string][]float64
}

func (r *results) add(key string, v float64) {
	if r.samples == nil {
		r.samples = map[string][]float64{}
	}
	if _, ok := r.samples[key]; !ok {
		r.keys = append(r.keys, key)
	}
	r.samples[key] = append(r.samples[key], v)
}

func (r *results) write(w io.Writer) {
	fmt.Fprintf(w, "%-34s %10s %10s %10s %3s\n", "figure", "median", "min", "max", "n")
	med := map[string]float64{}
	for _, k := range r.keys {
		s := slices.Clone(r.samples[k])
		slices.Sort(s)
		med[k] = s[len(s)/2]
		fmt.Fprintf(w, "%-34s %10.2f %10.2f %10.2f %3d\n", k, med[k], s[0], s[len(s)-1], len(s))
	}
	for _, k := range r.keys {
		fmt.Fprintf(w, "%s=%.2f\n", k, med[k])
	}
}

// measure runs the phases: the scale curve and memory first (the scale curve counts monitors),
// then rounds of the scheduler-driven phases. Rounds alternate the throughput, fixed-rate and
// baseline phases so drift on a shared machine hits all of them.
func (b *bench) measure(ctx context.Context, res *results) error {
	pid := b.ctl.cmd.Process.Pid
	time.Sleep(2 * time.Second) // let start-up garbage be collected before the empty baseline
	rss0, err := rssMiB(pid)
	if err != nil {
		return err
	}
	res.add("controller_rss_mib_0", rss0)
	if b.o.ProfileDir != "" {
		fmt.Fprintln(b.o.Log, "profiling: the first round of each phase is traced and runs slower; its figures are perturbed")
	}
	fmt.Fprintln(b.o.Log, "enrolling simulated agents …")
	if err := b.enrollFleet(ctx); err != nil {
		return err
	}
	for _, n := range b.o.Sizes {
		fmt.Fprintf(b.o.Log, "scale curve at %d monitors …\n", n)
		t0 := time.Now()
		wait := b.profileFirst(ctx, 0, fmt.Sprintf("apply%d", n), 5*time.Second)
		if err := b.applyMonitors(ctx, n); err != nil {
			return err
		}
		fmt.Fprintf(b.o.Log, "  applied in %s\n", time.Since(t0).Round(time.Millisecond))
		wait()
		b.drain(ctx)
		for r := range b.o.Rounds {
			wait := b.profileFirst(ctx, r, fmt.Sprintf("scale%d", n), b.o.ScaleFor)
			us, err := b.scale(ctx)
			wait()
			if err != nil {
				return err
			}
			res.add(fmt.Sprintf("cpu_us_per_run_at_%d_monitors", n), us)
		}
	}
	if err := b.memory(ctx, res); err != nil {
		return err
	}

	per := min(4, b.o.Checkpoints)
	b.heavy, b.typical = loadSet{"load", b.o.Checkpoints}, loadSet{"lat", per}
	for _, l := range []struct {
		set  loadSet
		rate int
	}{{b.heavy, b.o.Offered}, {b.typical, max(b.o.PacedRate, b.o.LowRate)}} {
		n := l.set.monitors(l.rate)
		fmt.Fprintf(b.o.Log, "applying %d load monitors (paused) on %d checkpoints each …\n", n, l.set.per)
		if err := b.applyLoad(ctx, l.set, n); err != nil {
			return err
		}
	}
	for r := range b.o.Rounds {
		fmt.Fprintf(b.o.Log, "round %d/%d: throughput, latency, baselines …\n", r+1, b.o.Rounds)
		if err := b.throughput(ctx, res, r); err != nil {
			return err
		}
		if err := b.paced(ctx, res, r, b.o.PacedRate, ""); err != nil {
			return err
		}
		if err := b.paced(ctx, res, r, b.o.LowRate, fmt.Sprintf("_at_%d", b.o.LowRate)); err != nil {
			return err
		}
		if err := b.baselines(ctx, res); err != nil {
			return err
		}
	}
	return nil
}

// profileFirst profiles the controller for d in the first round only.
func (b *bench) profileFirst(ctx context.Context, round int, name string, d time.Duration) func() {
	if round != 0 {
		return func() {}
	}
	return b.profile(ctx, name, d)
}

// drain waits until the simulated agents have answered everything sent so far: no run completed
// or failed for 500 ms (a backlog past its deadline fails its claims), bounded at 60 s.
func (b *bench) drain(context.Context) {
	rec := b.rec.Load()
	answered := func() int64 { return rec.completed.Load() + rec.failed.Load() }
	last, quiet := answered(), time.Now()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if n := answered(); n != last {
			last, quiet = n, time.Now()
		} else if time.Since(quiet) > 500*time.Millisecond {
			return
		}
	}
}

// trigger asks for one run of the i-th monitor over the admin API (the dispatcher's real path:
// record in the run table, publish on the checkpoint's subject).
func (b *bench) trigger(ctx context.Context, i int) error {
	actx, cancel := b.adminCtx(ctx)
	defer cancel()
	_, err := b.admin.TriggerRun(actx, &pb.TriggerRunRequest{Monitor: monitorName(i % b.monitors)})
	return err
}

// offer triggers runs at rate per second for d, from a pool of callers, and returns the recorder
// once every run is answered. Scheduling is by the clock (open loop): a late tick sends its backlog.
func (b *bench) offer(ctx context.Context, rate int, d time.Duration) (*recorder, int64, error) {
	rec := &recorder{}
	b.rec.Store(rec)
	tick := make(chan int, rate)
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range tick {
				if err := b.trigger(ctx, i); err != nil {
					failed.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	start := time.Now()
	total := int(float64(rate) * d.Seconds())
	sent := 0
	for sent < total {
		due := min(total, int(time.Since(start).Seconds()*float64(rate)))
		for ; sent < due; sent++ {
			tick <- sent
		}
		time.Sleep(time.Millisecond)
	}
	close(tick)
	wg.Wait()
	b.drain(ctx)
	if err, _ := failed.Load().(error); err != nil {
		return nil, 0, err
	}
	if f := rec.failed.Load(); f > 0 {
		return nil, 0, fmt.Errorf("%d runs failed: %v", f, rec.firstErr.Load())
	}
	return rec, int64(total), nil
}

// window is one scheduler-driven measurement: as many monitors of a load set as offer rate runs/s
// are resumed; once all are, the agents' completions are recorded for d, with the controller's CPU
// and group commits; then the monitors are paused again and the runs in flight drain. The first
// round is profiled when profiles are asked for.
type window struct {
	rec     *recorder
	seconds float64
	cpu     float64 // controller CPU seconds in the window
	offered float64 // runs/s
	commits commits
}

// commits are the controller's group commits in a window, from its Prometheus histograms: how
// many, their total time and write calls, and the cumulative count of the time histogram's
// buckets by upper bound (seconds).
type commits struct {
	count, seconds, writes float64
	le                     map[float64]float64
}

func (b *bench) commitTotals() commits {
	m, err := scrape(b.metrics, "lookout_store_commit_")
	if err != nil {
		return commits{}
	}
	c := commits{m["lookout_store_commit_seconds_count"], m["lookout_store_commit_seconds_sum"], m["lookout_store_commit_writes_sum"], map[float64]float64{}}
	for k, v := range m {
		bound, ok := strings.CutPrefix(k, `lookout_store_commit_seconds_bucket{le="`)
		if !ok {
			continue
		}
		if le, err := strconv.ParseFloat(strings.TrimSuffix(bound, `"}`), 64); err == nil {
			c.le[le] = v
		}
	}
	return c
}

// since is what was committed between c0 and c.
func (c commits) since(c0 commits) commits {
	d := commits{c.count - c0.count, c.seconds - c0.seconds, c.writes - c0.writes, map[float64]float64{}}
	for le, v := range c.le {
		d.le[le] = v - c0.le[le]
	}
	return d
}

// p99 names the upper bound of the histogram bucket that holds the 99th percentile commit time
// ("≤ 6.4ms"), or the last finite bound when that bucket is the open one ("> 819.2ms").
func (c commits) p99() string {
	bounds := slices.Sorted(maps.Keys(c.le))
	last := 0.0
	for _, le := range bounds {
		if c.le[le] >= 0.99*c.count {
			if math.IsInf(le, 1) {
				break
			}
			return "≤ " + time.Duration(le*float64(time.Second)).String()
		}
		last = le
	}
	return "> " + time.Duration(last*float64(time.Second)).String()
}

func (c commits) String() string {
	if c.count == 0 {
		return "no commits"
	}
	return fmt.Sprintf("%.0f commits, %.2f ms (p99 %s) and %.1f write calls each", c.count, c.seconds/c.count*1000, c.p99(), c.writes/c.count)
}

func (b *bench) window(ctx context.Context, round int, set loadSet, rate int, d time.Duration, name string) (*window, error) {
	n := set.monitors(rate)
	if err := b.setLoadPaused(ctx, set, n, false); err != nil {
		return nil, err
	}
	time.Sleep(250 * time.Millisecond) // the runs of the last monitors resumed get going
	pid := b.ctl.cmd.Process.Pid
	rec := &recorder{}
	wait := b.profileFirst(ctx, round, name, d)
	cpu0, _ := cpuSeconds(pid)
	c0 := b.commitTotals()
	start := time.Now()
	b.rec.Store(rec)
	time.Sleep(d)
	b.rec.Store(&recorder{}) // runs answered after the window are not counted
	c1 := b.commitTotals()
	w := &window{rec: rec, seconds: time.Since(start).Seconds(),
		offered: float64(n*set.per) / loadInterval.Seconds()}
	cpu1, _ := cpuSeconds(pid)
	w.cpu = cpu1 - cpu0
	w.commits = c1.since(c0)
	wait()
	if err := b.setLoadPaused(ctx, set, n, true); err != nil {
		return nil, err
	}
	b.drain(ctx)
	if f := rec.failed.Load(); f > 0 {
		return nil, fmt.Errorf("%s: %d runs failed: %v", name, f, rec.firstErr.Load())
	}
	return w, nil
}

// throughput offers o.Offered runs/s from the scheduler and reports the runs answered per second
// (what the controller sustains when that is less) and controller CPU per 1,000 runs.
func (b *bench) throughput(ctx context.Context, res *results, round int) error {
	w, err := b.window(ctx, round, b.heavy, b.o.Offered, b.o.Saturate, "saturate")
	if err != nil {
		return fmt.Errorf("throughput phase: %w", err)
	}
	done := w.rec.completed.Load()
	fmt.Fprintf(b.o.Log, "  throughput: %d runs answered in %.1fs, %.0f/s offered; %s\n", done, w.seconds, w.offered, w.commits)
	res.add("controller_offered_runs_per_s", w.offered)
	res.add("controller_runs_per_s", float64(done)/w.seconds)
	res.add("cpu_s_per_1k_runs", w.cpu/float64(done)*1000)
	return nil
}

// paced offers rate runs/s from the scheduler and reports dispatch→acknowledged latency
// percentiles of the runs answered in the window.
func (b *bench) paced(ctx context.Context, res *results, round, rate int, suffix string) error {
	w, err := b.window(ctx, round, b.typical, rate, b.o.Paced, "paced"+suffix)
	if err != nil {
		return fmt.Errorf("fixed-rate phase: %w", err)
	}
	rec := w.rec
	got := float64(rec.completed.Load()) / w.seconds
	// The offer is nominal: in a window shorter than the interval the count of monitors whose slot
	// falls in it varies by ~9% (s.d.) at 500 runs/s; far below it means the controller fell behind.
	if b.o.LatencyDir != "" { // a phase that fails is the one most worth reading
		if err := writeLatencies(filepath.Join(b.o.LatencyDir, fmt.Sprintf("paced%s-round%d.tsv", suffix, round+1)), rec); err != nil {
			fmt.Fprintf(b.o.Log, "  could not write the latencies: %v\n", err)
		}
	}
	if got < 0.6*w.offered {
		return fmt.Errorf("fixed-rate phase: %.0f runs/s answered of %.0f offered: the controller did not keep up", got, w.offered)
	}
	p50, p99 := percentiles(rec.lat)
	fmt.Fprintf(b.o.Log, "  %.0f runs/s offered, %.0f answered: p50 %.2f ms, p99 %.2f ms", w.offered, got, p50, p99)
	for i, name := range []string{"delivered", "claim", "report"} {
		q50, q99 := percentiles(rec.parts[i])
		fmt.Fprintf(b.o.Log, "; %s %.2f/%.2f", name, q50, q99)
	}
	hit, windows := tailWindows(rec.at, rec.lat, 50*time.Millisecond)
	fmt.Fprintf(b.o.Log, "; slowest 1%% in %d of %d 50-ms windows; %s\n", hit, windows, w.commits)
	res.add("e2e_p50_ms"+suffix, p50)
	res.add("e2e_p99_ms"+suffix, p99)
	return nil
}

// scale offers o.ScaleRate runs/s spread over every monitor and returns controller CPU µs per run,
// idle work (scheduler ticks, sweeps) included.
func (b *bench) scale(ctx context.Context) (float64, error) {
	pid := b.ctl.cmd.Process.Pid
	cpu0, _ := cpuSeconds(pid)
	rec, _, err := b.offer(ctx, b.o.ScaleRate, b.o.ScaleFor)
	if err != nil {
		return 0, fmt.Errorf("scale phase: %w", err)
	}
	cpu1, _ := cpuSeconds(pid)
	return (cpu1 - cpu0) / float64(rec.completed.Load()) * 1e6, nil
}

// baselines measures the floors an end-to-end run stands on, beside it: a bare gRPC unary call over
// TLS to the same controller (health check) and one fsync'd single-record bbolt commit on the
// same disk.
func (b *bench) baselines(ctx context.Context, res *results) error {
	h := healthpb.NewHealthClient(b.sims[0].conn) // an agent connection: health is not an admin call
	var lat []time.Duration
	for range 1000 {
		t := time.Now()
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := h.Check(cctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err != nil {
			return fmt.Errorf("health check: %w", err)
		}
		lat = append(lat, time.Since(t))
	}
	p50, _ := percentiles(lat)
	res.add("base_grpc_unary_p50_ms", p50)
	c, err := boltCommitMs(filepath.Join(b.dir, "baseline.db"), 300)
	if err != nil {
		return err
	}
	res.add("base_bbolt_commit_p50_ms", c)
	return nil
}

// memory applies nothing new: the controller already holds 10,000 monitors. It reads the
// controller's RSS after it has been idle, and a real agent's RSS after ~5 s enrolled and idle.
func (b *bench) memory(ctx context.Context, res *results) error {
	tok, err := b.newToken(ctx, cpName(0))
	if err != nil {
		return err
	}
	state := filepath.Join(b.dir, "agent-state")
	tokFile := filepath.Join(b.dir, "agent.token")
	if err := os.WriteFile(tokFile, []byte(tok+"\n"), 0o600); err != nil {
		return err
	}
	ag, err := startProc(b.agentBin, "--controller", b.addr, "--token-file", tokFile, "--state-dir", state, "--ca-file", b.caFile, "--log-format", "json")
	if err != nil {
		return err
	}
	defer ag.stop()
	fmt.Fprintln(b.o.Log, "idle memory …")
	pid := b.ctl.cmd.Process.Pid
	for r := range b.o.Rounds {
		time.Sleep(2 * time.Second)
		v, err := rssMiB(pid)
		if err != nil {
			return err
		}
		res.add(fmt.Sprintf("controller_rss_mib_%s", sizeName(b.monitors)), v)
		if r >= 1 { // the first read is the agent still starting
			a, err := rssMiB(ag.cmd.Process.Pid)
			if err != nil {
				return fmt.Errorf("agent: %w\n%s", err, ag.output())
			}
			res.add("agent_idle_rss_mib", a)
		}
	}
	return nil
}

func sizeName(n int) string {
	if n%1000 == 0 {
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

func percentiles(d []time.Duration) (p50, p99 float64) {
	if len(d) == 0 {
		return 0, 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(q float64) float64 {
		return float64(s[min(len(s)-1, int(q*float64(len(s))))].Microseconds()) / 1000
	}
	return at(0.50), at(0.99)
}

// tailWindows cuts the phase into windows of width w by dispatch time and counts the windows that
// hold at least one of the slowest 1% of runs. Few windows mean the tail is made of stalls that
// catch every run in flight (a garbage collection, the cores busy elsewhere); many, that it is
// spread over the run, each slow on its own.
func tailWindows(at []time.Time, lat []time.Duration, w time.Duration) (hit, windows int) {
	if len(at) == 0 {
		return 0, 0
	}
	// The slowest 1% by rank (at least one run), not every run at or above the 99th percentile's
	// value: when latencies tie there, that would count the ties too.
	order := make([]int, len(lat))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(lat[b], lat[a]) })
	first, last := slices.MinFunc(at, time.Time.Compare), slices.MaxFunc(at, time.Time.Compare)
	slow := map[int64]bool{}
	for _, i := range order[:max(1, len(order)/100)] {
		slow[int64(at[i].Sub(first)/w)] = true
	}
	return len(slow), int(last.Sub(first)/w) + 1
}

// writeLatencies writes one line per run of a phase, for finding when the slow ones happened: the
// time it was dispatched (µs since the Unix epoch) and its latency, whole and by stage, in µs.
func writeLatencies(path string, rec *recorder) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	var sb strings.Builder
	sb.WriteString("dispatched_unix_us\ttotal_us\tdelivered_us\tclaim_us\treport_us\n")
	for i := range rec.lat {
		fmt.Fprintf(&sb, "%d\t%d\t%d\t%d\t%d\n", rec.at[i].UnixMicro(), rec.lat[i].Microseconds(),
			rec.parts[0][i].Microseconds(), rec.parts[1][i].Microseconds(), rec.parts[2][i].Microseconds())
	}
	return os.WriteFile(path, []byte(sb.String()), 0o644)
}
