package ctl

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// StorageOptions size the storage bench.
type StorageOptions struct {
	Runs int       // results of each kind stored and measured; default 1000
	Log  io.Writer // progress; nil = none
}

// Storage measures what the controller's bbolt file holds per stored result: a real
// lookout-controller stores Runs passing 3-step results, then Runs failing ones with a body
// excerpt, each answered by a simulated agent on the real claim and report path, and the bytes in
// use (pages written, not free) are read from the file between phases, with the controller
// stopped. Each figure is printed beside the protobuf size of the result the agent reported.
func Storage(ctx context.Context, w io.Writer, so StorageOptions) (err error) {
	if so.Runs == 0 {
		so.Runs = 1000
	}
	b := &bench{o: Options{Log: so.Log, Checkpoints: 1, Workers: 16}}
	b.o.defaults()
	if b.dir, err = os.MkdirTemp("", "lookout-storebench-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.dir)
	fmt.Fprintln(b.o.Log, "building binaries …")
	if b.ctlBin, b.agentBin, err = buildBinaries(ctx, b.dir); err != nil {
		return err
	}
	defer b.close()
	phases := []struct {
		name   string
		result func(req *pb.RunRequest) *pb.RunResult
	}{{"warm-up", passingResult}, {"passing", passingResult}, {"failing", failingResult}}
	var inUse []int64
	for i, p := range phases {
		n := so.Runs
		if i == 0 {
			n = so.Runs / 5 // buckets, the monitor, the agent and a first fill of each page type
		}
		fmt.Fprintf(b.o.Log, "storing %d %s results …\n", n, p.name)
		if err := b.storePhase(ctx, i == 0, n, p.result); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		used, err := boltInUse(filepath.Join(b.dir, "data", "lookout.db"))
		if err != nil {
			return err
		}
		inUse = append(inUse, used)
		if err := logBuckets(b.o.Log, filepath.Join(b.dir, "data", "lookout.db")); err != nil {
			return err
		}
	}
	per := func(i int) float64 { return float64(inUse[i]-inUse[i-1]) / float64(so.Runs) }
	fmt.Fprintf(w, "%-34s %12s %12s\n", "storage per result (bytes)", "in bbolt", "result proto")
	fmt.Fprintf(w, "%-34s %12.0f %12d\n", "passing 3-step run", per(1), proto.Size(passingResult(sampleReq())))
	fmt.Fprintf(w, "%-34s %12.0f %12d\n", "failing run with a body excerpt", per(2), proto.Size(failingResult(sampleReq())))
	fmt.Fprintf(w, "store_bytes_per_passing_result=%.0f\nresult_proto_bytes_passing=%d\n", per(1), proto.Size(passingResult(sampleReq())))
	fmt.Fprintf(w, "store_bytes_per_failing_result=%.0f\nresult_proto_bytes_failing=%d\n", per(2), proto.Size(failingResult(sampleReq())))
	return nil
}

// storePhase starts the controller (on the same data directory each time), enrolls a simulated
// agent that reports result(req) for every run, stores n runs of one monitor through TriggerRun,
// and stops the controller so that its file can be read.
func (b *bench) storePhase(ctx context.Context, first bool, n int, result func(*pb.RunRequest) *pb.RunResult) error {
	if err := b.startController(ctx); err != nil {
		return err
	}
	defer func() { b.close(); b.sims, b.adminCC, b.ctl = nil, nil, nil }()
	tok, err := b.newToken(ctx, cpName(0))
	if err != nil {
		return err
	}
	sim, err := enrollSim(ctx, b.addr, b.caPool, tok, fmt.Sprintf("store-%d", time.Now().UnixNano()), b.o.Workers, &b.rec)
	if err != nil {
		return err
	}
	sim.result = result
	b.sims = []*simAgent{sim}
	if first {
		actx, cancel := b.adminCtx(ctx)
		_, err := b.admin.ApplyMonitor(actx, &pb.ApplyMonitorRequest{Source: monitorFile(0, 1), Filename: monitorName(0)})
		cancel()
		if err != nil {
			return fmt.Errorf("applying the monitor: %w", err)
		}
		b.monitors = 1
	}
	rec := &recorder{}
	b.rec.Store(rec)
	if err := b.each(ctx, 0, n, func(actx context.Context, _ int) error {
		_, err := b.admin.TriggerRun(actx, &pb.TriggerRunRequest{Monitor: monitorName(0)})
		return err
	}); err != nil {
		return err
	}
	b.drain(ctx)
	if f := rec.failed.Load(); f > 0 {
		return fmt.Errorf("%d runs failed: %v", f, rec.firstErr.Load())
	}
	return nil
}

// boltInUse is the bytes of a bbolt file's pages that hold data: its size up to the high-water
// mark less its free pages. The file itself is larger: bbolt grows it ahead of use.
func boltInUse(path string) (int64, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 10 * time.Second})
	if err != nil {
		return 0, fmt.Errorf("opening %s: %w", path, err)
	}
	defer db.Close()
	var size int64
	if err := db.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil }); err != nil {
		return 0, err
	}
	st := db.Stats()
	return size - int64(st.FreePageN+st.PendingPageN)*int64(db.Info().PageSize), nil
}

// logBuckets writes each top-level bucket's keys, bytes of its pages in use (keys, values and
// headers) and bytes of the pages it holds, so that a phase's growth can be read bucket by bucket.
func logBuckets(w io.Writer, path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 10 * time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			st := bk.Stats()
			fmt.Fprintf(w, "  bucket %-20s keys %8d  in use %10d  pages %10d\n", name, st.KeyN,
				st.BranchInuse+st.LeafInuse+st.InlineBucketInuse, st.BranchAlloc+st.LeafAlloc)
			return nil
		})
	})
}

func sampleReq() *pb.RunRequest {
	return &pb.RunRequest{RunId: "run_0123456789abcdef01234567", Attempt: 1, CheckpointId: "cp_0123456789abcdef01234567"}
}

// passingResult is what the agent's runner reports for a passing 3-step run of an ordinary JSON
// API: per step the URL, status, timings, a few headers each way, one assertion, and the small
// JSON body as its excerpt.
func passingResult(req *pb.RunRequest) *pb.RunResult {
	res := baseResult(req, pb.Outcome_OUTCOME_PASSED)
	for i, name := range []string{"token", "orders", "order"} {
		st := stepResult(i, name, 200, "OK", `{"id":"ord_8412","status":"shipped","items":[{"sku":"A-1","qty":2}],"total":"42.10"}`)
		st.Passed = true
		res.Steps = append(res.Steps, st)
	}
	return res
}

// failingResult is a run whose second step got a 503 with an HTML error page (its excerpt kept,
// ~2 KiB) and whose third step was skipped.
func failingResult(req *pb.RunRequest) *pb.RunResult {
	res := baseResult(req, pb.Outcome_OUTCOME_FAILED)
	ok := stepResult(0, "token", 200, "OK", `{"access_token":"[redacted]","expires_in":3600}`)
	ok.Passed = true
	bad := stepResult(1, "orders", 503, "Service Unavailable",
		"<html><head><title>503 Service Unavailable</title></head><body>"+strings.Repeat("<p>upstream connect error or disconnect/reset before headers</p>", 30)+"</body></html>")
	bad.Assertions[0].Passed, bad.Assertions[0].Actual, bad.Assertions[0].Message = false, "503", "expected status 200, got 503"
	bad.ErrorClass, bad.Error = pb.ErrorClass_ERROR_CLASS_ASSERTION, "expected status 200, got 503"
	res.ErrorClass, res.Message = bad.ErrorClass, `step "orders": expected status 200, got 503`
	res.Steps = append(res.Steps, ok, bad, &pb.StepResult{Index: 2, Name: "order", Skipped: true})
	return res
}

func baseResult(req *pb.RunRequest, o pb.Outcome) *pb.RunResult {
	now := time.Now()
	return &pb.RunResult{RunId: req.RunId, Attempt: req.Attempt, Outcome: o, StartedAt: timestamppb.New(now.Add(-180 * time.Millisecond)),
		FinishedAt: timestamppb.New(now)}
}

func stepResult(i int, name string, status int32, text, body string) *pb.StepResult {
	ms := func(v float64) *durationpb.Duration {
		return durationpb.New(time.Duration(v * float64(time.Millisecond)))
	}
	return &pb.StepResult{Index: int32(i), Name: name, Method: "GET", Url: "https://api.example.net/v2/" + name + "?page=1",
		StatusCode: status, StatusText: text, ResolvedIp: "203.0.113.10", HttpVersion: "HTTP/2.0",
		Timings: &pb.Timings{Dns: ms(1.2), Connect: ms(8.4), Tls: ms(21.7), FirstByte: ms(35.2), Download: ms(0.4), Total: ms(67.1)},
		RequestHeaders: []*pb.Header{{Name: "Accept", Value: "application/json"}, {Name: "Authorization", Value: "[redacted]"},
			{Name: "User-Agent", Value: "lookout-agent/1.0"}},
		ResponseHeaders: []*pb.Header{{Name: "Cache-Control", Value: "no-store"}, {Name: "Content-Type", Value: "application/json"},
			{Name: "Date", Value: "Sun, 06 Dec 2026 12:00:00 GMT"}, {Name: "Server", Value: "envoy"}},
		BodyExcerpt: body, BodySize: int64(len(body)),
		Assertions: []*pb.AssertionResult{{Assertion: &pb.Assertion{Source: pb.AssertSource_ASSERT_SOURCE_STATUS,
			Comparison: pb.Comparison_COMPARISON_EQUAL, Value: "200"}, Passed: true, Actual: fmt.Sprint(status)}},
		Attempts: 1, Duration: ms(67.1)}
}
