// Command bench prints the alert delivery latency: from the confirming result being stored to a
// webhook receiver on loopback having the signed request, while the same store takes a paced
// background load of results (default 2,000 runs/s, each a run record, a claim and a result, as
// agents make them). It runs the controller's real store (bbolt, fsync on, group commit), alert
// engine and deliverer in one process; gRPC and NATS are not in the path it measures.
//
//	go run ./controller/internal/alerting/bench [-rate 2000] [-alerts 200]
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lookout-synthetics/lookout/controller/internal/alerting"
	"github.com/lookout-synthetics/lookout/controller/internal/notify"
	"github.com/lookout-synthetics/lookout/controller/internal/store"
	"github.com/lookout-synthetics/lookout/controller/internal/vault"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

func main() {
	rate := flag.Int("rate", 2000, "background results per second")
	alerts := flag.Int("alerts", 200, "alerts to open and time")
	flag.Parse()
	if err := run(*rate, *alerts); err != nil {
		fmt.Fprintln(os.Stderr, "alert bench:", err)
		os.Exit(1)
	}
}

// harness is the store, engine and deliverer under test, and the receiver's arrival times.
type harness struct {
	st      *store.Store
	e       *alerting.Engine
	mu      sync.Mutex
	arrived map[string]time.Time // monitor name → when its alert.opened arrived
	stored  map[string]time.Time // monitor name → when its confirming result was stored
	mons    []*pb.Monitor
	load    *pb.Monitor
}

func run(rate, alerts int) error {
	dir, err := os.MkdirTemp("", "lookout-alertbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	h := &harness{arrived: map[string]time.Time{}, stored: map[string]time.Time{}}
	if h.st, err = store.Open(dir); err != nil {
		return err
	}
	defer h.st.Close()
	recv := httptest.NewServer(http.HandlerFunc(h.receive))
	defer recv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	if err := h.setup(ctx, &wg, recv.URL, alerts); err != nil {
		return err
	}
	var done atomic.Int64
	loadCtx, stopLoad := context.WithCancel(ctx)
	wg.Go(func() { h.background(loadCtx, rate, &done) })
	time.Sleep(time.Second) // let the load reach its pace
	start, before := time.Now(), done.Load()
	for _, m := range h.mons {
		if err := h.openAlert(m); err != nil {
			stopLoad()
			return err
		}
		time.Sleep(40 * time.Millisecond)
	}
	h.waitArrivals(10 * time.Second)
	achieved := float64(done.Load()-before) / time.Since(start).Seconds()
	stopLoad()
	return h.report(achieved)
}

func (h *harness) setup(ctx context.Context, wg *sync.WaitGroup, url string, alerts int) error {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	v, err := vault.Open(vault.Options{DB: h.st.DB(), MasterKey: key})
	if err != nil {
		return err
	}
	if _, err := v.AddSecret("hook-key", "", "whsec_MDEyMzQ1Njc4OWFiY2RlZg=="); err != nil {
		return err
	}
	if _, _, _, err := h.st.PutChannel(&pb.Channel{Name: "hook", Type: pb.ChannelType_CHANNEL_TYPE_WEBHOOK, Url: url, SigningSecret: "hook-key"}); err != nil {
		return err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := notify.NewDeliverer(notify.Options{Store: h.st, Sender: &notify.Sender{HTTP: &http.Client{Timeout: 5 * time.Second}, Secrets: v}, Logger: quiet})
	h.e = alerting.New(alerting.Options{Store: h.st, Confirm: noConfirm{}, Wake: d.Wake, Logger: quiet})
	wg.Go(func() { d.Run(ctx) })
	wg.Go(func() { h.e.Run(ctx) })
	policy := &pb.AlertingPolicy{Escalations: []*pb.EscalationLevel{{After: durationpb.New(0), Notify: []string{"hook"}}}}
	if h.load, err = h.monitor("load", nil); err != nil {
		return err
	}
	for i := range alerts {
		m, err := h.monitor(fmt.Sprintf("alert-%04d", i), policy)
		if err != nil {
			return err
		}
		h.mons = append(h.mons, m)
	}
	return nil
}

type noConfirm struct{}

func (noConfirm) DispatchConfirmation(*pb.Monitor, []string) ([]*pb.Run, error) { return nil, nil }

func (h *harness) monitor(name string, p *pb.AlertingPolicy) (*pb.Monitor, error) {
	m, _, _, err := h.st.PutMonitor(&pb.Monitor{Name: name, Interval: durationpb.New(time.Minute), Timeout: durationpb.New(10 * time.Second),
		Checkpoints: []string{"cp-a", "cp-b"}, Alerting: p, Steps: []*pb.Step{{Name: "get", Request: &pb.HttpRequest{Url: "http://127.0.0.1/"}}}})
	return m, err
}

func (h *harness) receive(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	var body struct{ Type, Monitor string }
	_ = json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body)
	if body.Type == alerting.TypeOpened {
		h.mu.Lock()
		if _, seen := h.arrived[body.Monitor]; !seen {
			h.arrived[body.Monitor] = at
		}
		h.mu.Unlock()
	}
	w.WriteHeader(http.StatusNoContent)
}

// result stores one agent's result of a new run of m on cp, as an agent's report is stored, and
// tells the engine as the server does.
func (h *harness) result(m *pb.Monitor, cp string, passed bool) (*pb.RunResult, error) {
	now := time.Now()
	r := &pb.Run{RunId: store.NewID("run_"), MonitorId: m.Id, MonitorName: m.Name, CheckpointId: cp, CheckpointName: cp, Attempt: 1,
		State: pb.RunState_RUN_STATE_DISPATCHED, ScheduledAt: timestamppb.New(now), Deadline: timestamppb.New(now.Add(time.Minute))}
	wait, err := h.st.QueueRuns([]*pb.Run{r}, nil)
	if err != nil {
		return nil, err
	}
	if _, err := wait(); err != nil {
		return nil, err
	}
	ag := store.Agent{ID: "agt-" + cp, CheckpointID: cp}
	if _, err := h.st.ClaimRun(r.RunId, 1, ag); err != nil {
		return nil, err
	}
	res := &pb.RunResult{RunId: r.RunId, Attempt: 1, Outcome: pb.Outcome_OUTCOME_PASSED}
	if !passed {
		res.Outcome, res.Message = pb.Outcome_OUTCOME_FAILED, "expected status 200, got 503"
	}
	stored, _, err := h.st.CompleteRun(res, ag)
	if err != nil {
		return nil, err
	}
	h.e.Observe(stored)
	return stored, nil
}

// background stores passing results of the load monitor at rate per second, 128 at a time.
func (h *harness) background(ctx context.Context, rate int, done *atomic.Int64) {
	work := make(chan string, rate)
	var wg sync.WaitGroup
	for range 128 {
		wg.Go(func() {
			for cp := range work {
				if _, err := h.result(h.load, cp, true); err == nil {
					done.Add(1)
				}
			}
		})
	}
	defer func() { close(work); wg.Wait() }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	per := max(rate/100, 1)
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for j := range per {
			select {
			case work <- []string{"cp-a", "cp-b"}[(i+j)%2]:
			default: // the store is behind: the offered rate is not met (reported)
			}
		}
	}
}

// openAlert fails m on cp-a (unconfirmed), then on cp-b: that result confirms and opens the alert.
func (h *harness) openAlert(m *pb.Monitor) error {
	if _, err := h.result(m, "cp-a", false); err != nil {
		return err
	}
	res, err := h.result(m, "cp-b", false)
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.stored[m.Name] = res.StoredAt.AsTime()
	h.mu.Unlock()
	return nil
}

func (h *harness) waitArrivals(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		n := len(h.arrived)
		h.mu.Unlock()
		if n >= len(h.mons) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) report(achieved float64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var lat []float64
	for name, at := range h.arrived {
		lat = append(lat, float64(at.Sub(h.stored[name]).Microseconds())/1000)
	}
	if len(lat) < len(h.mons) {
		return fmt.Errorf("%d of %d alerts arrived", len(lat), len(h.mons))
	}
	slices.Sort(lat)
	pick := func(q float64) float64 { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	fmt.Printf("alert_delivery_ms_p50=%.1f\n", pick(0.50))
	fmt.Printf("alert_delivery_ms_p99=%.1f\n", pick(0.99))
	fmt.Printf("alert_delivery_background_runs_per_s=%.0f\n", achieved)
	fmt.Printf("alert_delivery_samples=%d\n", len(lat))
	return nil
}
