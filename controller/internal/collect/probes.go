package collect

import (
	"bufio"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Families of the per-monitor × checkpoint series, in the order a scrape writes them. The probe_*
// names are blackbox_exporter's and Grafana Synthetic Monitoring's, so their dashboards and alert
// rules work unchanged.
const (
	famSuccess = iota
	famDuration
	famStatus
	famPhase
	famSSL
	famRunHist
	numFamilies
)

var familyHeaders = [numFamilies]string{
	"# HELP probe_success Whether the latest run passed (1) or not (0).\n# TYPE probe_success gauge\n",
	"# HELP probe_duration_seconds Duration of the latest run.\n# TYPE probe_duration_seconds gauge\n",
	"# HELP probe_http_status_code Status code of the latest run's last HTTP step (0 when none answered).\n# TYPE probe_http_status_code gauge\n",
	"# HELP probe_http_duration_seconds Duration of each phase of the latest run, summed over its steps.\n# TYPE probe_http_duration_seconds gauge\n",
	"# HELP probe_ssl_earliest_cert_expiry Unix time of the earliest expiry among the targets' certificates in the latest run.\n# TYPE probe_ssl_earliest_cert_expiry gauge\n",
	"# HELP lookout_run_duration_seconds Run durations since the controller started (runs Lookout itself could not carry out left out).\n# TYPE lookout_run_duration_seconds histogram\n",
}

// RunDurationBuckets are the upper bounds (seconds) of lookout_run_duration_seconds.
var RunDurationBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Store is what the probe series and queries read from the controller's store.
type Store interface {
	Monitors() ([]*pb.Monitor, error)
	MonitorsGeneration() uint64
	LatestResults(monitor string, want func(monitor, checkpoint string) bool) ([]*pb.RunResult, error)
}

type pairKey struct{ monitor, checkpoint string }

// rendered is one series' text, per family; never changed once made, so a scrape can write it
// without a lock.
type rendered [numFamilies][]byte

type hist struct {
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
}

// ProbeSeries keeps the per-monitor × checkpoint series in memory, rendered as Prometheus text
// when a result arrives, so a scrape of 30,000 series copies bytes and reads no store. Series of
// monitors deleted, or checkpoints removed from a monitor, are dropped at the next result or
// scrape after the change.
type ProbeSeries struct {
	st  Store
	log *slog.Logger

	mu      sync.Mutex
	gen     uint64
	allowed map[pairKey]bool
	series  map[pairKey]*rendered
	shown   map[pairKey]store.RunOrder // the order of the result each series shows
	hists   map[pairKey]*hist
	order   []pairKey // sorted keys of series; nil when it must be rebuilt
}

// NewProbeSeries loads the latest result of every monitor × checkpoint from the store.
func NewProbeSeries(st Store, log *slog.Logger) (*ProbeSeries, error) {
	p := &ProbeSeries{st: st, log: log, series: map[pairKey]*rendered{}, shown: map[pairKey]store.RunOrder{}, hists: map[pairKey]*hist{}}
	p.mu.Lock()
	err := p.refreshLocked(true)
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	latest, err := st.LatestResults("", func(m, cp string) bool { return p.allowed[pairKey{m, cp}] })
	if err != nil {
		return nil, err
	}
	for _, res := range latest {
		p.set(res, false)
	}
	return p, nil
}

// Observe takes a newly stored result.
func (p *ProbeSeries) Observe(res *pb.RunResult) { p.set(res, true) }

// set counts res in its series' histogram and shows it as the series' latest run, unless the
// series shows a run scheduled after it (res was reported late).
func (p *ProbeSeries) set(res *pb.RunResult, count bool) {
	k := pairKey{res.MonitorName, res.CheckpointName}
	lookoutErr := store.LookoutCaused(res)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.refreshLocked(false); err != nil {
		p.log.Error("reloading monitors for the probe series", "err", err)
	}
	if !p.allowed[k] {
		return // the monitor was deleted, or no longer runs from this checkpoint
	}
	h := p.hists[k]
	if h == nil {
		h = &hist{counts: make([]uint64, len(RunDurationBuckets)+1)}
		p.hists[k] = h
	}
	if count && !lookoutErr {
		h.observe(runSeconds(res))
	}
	old, o := p.series[k], store.OrderOf(res)
	if shown, ok := p.shown[k]; ok && o.Before(shown) {
		p.series[k] = render(k, nil, old, h, true) // keeps the gauges: only the histogram moved
		return
	}
	if old == nil {
		p.order = nil
	}
	p.series[k], p.shown[k] = render(k, res, old, h, lookoutErr), o
}

// refreshLocked reloads which monitor × checkpoint pairs exist when monitors changed, and drops
// the series of the others.
func (p *ProbeSeries) refreshLocked(force bool) error {
	gen := p.st.MonitorsGeneration()
	if !force && gen == p.gen {
		return nil
	}
	ms, err := p.st.Monitors()
	if err != nil {
		return err
	}
	p.gen, p.allowed = gen, make(map[pairKey]bool, len(ms)*3)
	for _, m := range ms {
		for _, cp := range m.Checkpoints {
			p.allowed[pairKey{m.Name, cp}] = true
		}
	}
	for k := range p.series {
		if !p.allowed[k] {
			delete(p.series, k)
			delete(p.shown, k)
			delete(p.hists, k)
			p.order = nil
		}
	}
	return nil
}

// snapshot returns the series to write, in label order.
func (p *ProbeSeries) snapshot() []*rendered {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.refreshLocked(false); err != nil {
		p.log.Error("reloading monitors for the probe series", "err", err)
	}
	if p.order == nil {
		p.order = make([]pairKey, 0, len(p.series))
		for k := range p.series {
			p.order = append(p.order, k)
		}
		slices.SortFunc(p.order, func(a, b pairKey) int {
			return strings.Compare(a.monitor+"\x00"+a.checkpoint, b.monitor+"\x00"+b.checkpoint)
		})
	}
	out := make([]*rendered, len(p.order))
	for i, k := range p.order {
		out[i] = p.series[k]
	}
	return out
}

// WriteText writes every series in the Prometheus text format (0.0.4).
func (p *ProbeSeries) WriteText(w io.Writer) error {
	snap := p.snapshot()
	bw := bufio.NewWriterSize(w, 64<<10)
	for f := range numFamilies {
		bw.WriteString(familyHeaders[f])
		for _, r := range snap {
			bw.Write(r[f])
		}
	}
	return bw.Flush()
}

func (h *hist) observe(sec float64) {
	i, _ := slices.BinarySearch(RunDurationBuckets, sec)
	h.counts[i]++
	h.sum += sec
}

func runSeconds(res *pb.RunResult) float64 {
	return max(res.GetFinishedAt().AsTime().Sub(res.GetStartedAt().AsTime()).Seconds(), 0)
}

// labelValue escapes a label value as the text format wants (backslash, quote, newline).
func labelValue(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
