package console

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// resultLog is stored results in sequence order, starting after a pruned prefix.
type resultLog []*pb.RunResult

func (l resultLog) Results(after uint64, fn func(*pb.RunResult) bool) error {
	for _, r := range l {
		if r.Sequence > after && !fn(r) {
			return nil
		}
	}
	return nil
}

func result(seq uint64, monitor, checkpoint string, o pb.Outcome) *pb.RunResult {
	at := time.Date(2026, 12, 1, 0, 0, int(seq), 0, time.UTC)
	return &pb.RunResult{RunId: fmt.Sprintf("run_%d", seq), Sequence: seq, MonitorId: monitor, CheckpointName: checkpoint, Outcome: o,
		StartedAt: timestamppb.New(at.Add(-time.Second)), FinishedAt: timestamppb.New(at)}
}

func TestIndexTailAndOrder(t *testing.T) {
	var log resultLog
	for seq := uint64(1001); seq <= 1100; seq++ { // results 1..1000 were pruned
		log = append(log, result(seq, fmt.Sprintf("mon_%d", seq%3), "edge-1", pb.Outcome_OUTCOME_PASSED))
	}
	x := NewIndex(IndexOptions{RecentRuns: 5})
	if err := x.LoadTail(log, 10); err != nil {
		t.Fatal(err)
	}
	if got, _ := x.cell("mon_1", "edge-1"); got.RunID != "run_1099" {
		t.Errorf("latest of mon_1 after the tail: %s, want run_1099", got.RunID)
	}
	if _, ok := x.cell("mon_1", "edge-2"); ok {
		t.Error("a cell without results has a latest result")
	}
	x.Observe(result(1050, "mon_1", "edge-1", pb.Outcome_OUTCOME_FAILED)) // older than what it holds
	x.Observe(result(1101, "mon_1", "edge-1", pb.Outcome_OUTCOME_FAILED))
	got, _ := x.cell("mon_1", "edge-1")
	if diff := cmp.Diff([]any{got.RunID, got.Outcome}, []any{"run_1101", pb.Outcome_OUTCOME_FAILED}); diff != "" {
		t.Errorf("latest after observing (-got +want):\n%s", diff)
	}
	var runs []string
	for _, r := range x.recentRuns("mon_1") {
		runs = append(runs, r.RunID)
	}
	if diff := cmp.Diff(runs, []string{"run_1093", "run_1096", "run_1099", "run_1101"}); diff != "" {
		t.Errorf("recent runs of mon_1 (-got +want):\n%s", diff)
	}
}

func TestIndexBounds(t *testing.T) {
	x := NewIndex(IndexOptions{RecentRuns: 3, MaxMonitors: 2})
	for seq := uint64(1); seq <= 10; seq++ {
		x.Observe(result(seq, fmt.Sprintf("mon_%d", seq%4), "edge-1", pb.Outcome_OUTCOME_PASSED))
	}
	if len(x.latest) != 2 {
		t.Errorf("index tracks %d monitors, want at most 2", len(x.latest))
	}
	for id, runs := range x.recent {
		if len(runs) > 3 {
			t.Errorf("%s keeps %d runs, want at most 3", id, len(runs))
		}
	}
}

func TestIndexForgetsDeletedMonitors(t *testing.T) {
	x := NewIndex(IndexOptions{})
	x.Observe(result(1, "mon_kept", "edge-1", pb.Outcome_OUTCOME_PASSED))
	x.Observe(result(2, "mon_gone", "edge-1", pb.Outcome_OUTCOME_PASSED))
	x.retain(map[string]bool{"mon_kept": true})
	if _, ok := x.cell("mon_gone", "edge-1"); ok || len(x.recentRuns("mon_gone")) != 0 {
		t.Error("a deleted monitor's results are still indexed")
	}
	if _, ok := x.cell("mon_kept", "edge-1"); !ok {
		t.Error("a kept monitor's result was dropped")
	}
}

func TestClipKeepsCharactersWhole(t *testing.T) {
	for in, want := range map[string]string{"abc": "abc", "ééé": "é…", "abcd": "abc…"} {
		if got := clip(in, 3); got != want {
			t.Errorf("clip(%q, 3) = %q, want %q", in, got, want)
		}
	}
}

func TestLastSequenceOfEmptyLog(t *testing.T) {
	if n, err := lastSequence(resultLog(nil)); n != 0 || err != nil {
		t.Fatalf("lastSequence of no results = %d, %v; want 0", n, err)
	}
}

func TestWaterfallLaysStepsEndToEnd(t *testing.T) {
	ms := func(n int) *durationpb.Duration { return durationpb.New(time.Duration(n) * time.Millisecond) }
	steps := []*pb.StepResult{
		{Index: 0, Name: "login", Method: "POST", Duration: ms(100), Timings: &pb.Timings{Dns: ms(10), Connect: ms(20), Tls: ms(30), FirstByte: ms(30), Download: ms(10)}},
		{Index: 1, Duration: ms(300)},
		{Index: 2, Method: "GET", Duration: ms(100), Timings: &pb.Timings{FirstByte: ms(50), Download: ms(25)}},
	}
	rows := newWaterfall(steps)
	type span struct {
		Class string
		X, W  float64
	}
	var got [][]span
	for _, r := range rows {
		var spans []span
		for _, b := range r.Bars {
			spans = append(spans, span{b.Class, b.X, b.W})
		}
		got = append(got, spans)
	}
	want := [][]span{
		{{"ph-dns", 0, 20}, {"ph-connect", 20, 40}, {"ph-tls", 60, 60}, {"ph-firstbyte", 120, 60}, {"ph-download", 180, 20}},
		{{"ph-wait", 200, 600}},
		{{"ph-firstbyte", 800, 100}, {"ph-download", 900, 50}, {"ph-other", 950, 50}},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("waterfall (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff([]string{rows[0].Name, rows[1].Name, rows[2].Name}, []string{"login", "wait", "GET request"}); diff != "" {
		t.Errorf("step names (-got +want):\n%s", diff)
	}
}

func TestCheckListen(t *testing.T) {
	for name, tc := range map[string]struct {
		o  ListenOptions
		ok bool
	}{
		"loopback v4":          {ListenOptions{Addr: "127.0.0.1:8080"}, true},
		"loopback v6":          {ListenOptions{Addr: "[::1]:8080"}, true},
		"localhost":            {ListenOptions{Addr: "localhost:0"}, true},
		"all interfaces":       {ListenOptions{Addr: ":8080"}, false},
		"public address":       {ListenOptions{Addr: "10.1.2.3:8080"}, false},
		"public with TLS":      {ListenOptions{Addr: "0.0.0.0:8443", CertFile: "c", KeyFile: "k"}, true},
		"certificate, no key":  {ListenOptions{Addr: "127.0.0.1:0", CertFile: "c"}, false},
		"no port":              {ListenOptions{Addr: "127.0.0.1"}, false},
		"host name not loopbk": {ListenOptions{Addr: "console.example:80"}, false},
	} {
		if err := CheckListen(tc.o); (err == nil) != tc.ok {
			t.Errorf("%s: CheckListen(%+v) = %v, want ok=%v", name, tc.o, err, tc.ok)
		}
	}
}

func TestLoginLimiterIsPerAddress(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	l := newLoginLimiter(func() time.Time { return now })
	for range loginFailures {
		if l.blocked("192.0.2.1:4000") {
			t.Fatal("blocked before the limit")
		}
		l.refused("192.0.2.1:4000")
	}
	if !l.blocked("192.0.2.1:5000") {
		t.Error("a guesser is not blocked after the limit (from another port of the same address)")
	}
	if l.blocked("192.0.2.2:4000") {
		t.Error("another address is locked out by one guesser")
	}
	now = now.Add(time.Minute + time.Second)
	if l.blocked("192.0.2.1:4000") {
		t.Error("the block outlived its minute")
	}
}

func TestSessionsExpire(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	s := newSessions(time.Hour, func() time.Time { return now })
	id, _ := s.create(Identity{Name: "token:reader", Scope: ScopeRead}, "a-token")
	if _, ok := s.get(id); !ok {
		t.Fatal("a new session is not found")
	}
	now = now.Add(time.Hour + time.Second)
	if _, ok := s.get(id); ok {
		t.Fatal("a session outlived its lifetime")
	}
}
