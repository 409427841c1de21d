package store

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// sampleResult is a passing 3-step run of a JSON API, different bodies per step.
func sampleResult() *pb.RunResult {
	now := time.Now()
	res := &pb.RunResult{RunId: "run_0123456789abcdef01234567", Attempt: 1, MonitorId: "mon_0123456789abcdef01234567",
		MonitorName: "orders", AgentId: "agt_0123456789abcdef01234567", Outcome: pb.Outcome_OUTCOME_PASSED,
		StartedAt: timestamppb.New(now), FinishedAt: timestamppb.New(now), Sequence: 12345, StoredAt: timestamppb.New(now)}
	for i, body := range []string{`{"access_token":"[redacted]","expires_in":3600}`, `{"orders":[{"id":"ord_8412"}],"next":null}`, `{"id":"ord_8412","total":"42.10"}`} {
		res.Steps = append(res.Steps, &pb.StepResult{Index: int32(i), Method: "GET", Url: "https://api.example.net/v2/orders?page=" + strings.Repeat("1", i+1),
			StatusCode: 200, StatusText: "OK", HttpVersion: "HTTP/2.0", Passed: true, BodyExcerpt: body,
			Timings:         &pb.Timings{FirstByte: durationpb.New(35 * time.Millisecond), Total: durationpb.New(67 * time.Millisecond)},
			RequestHeaders:  []*pb.Header{{Name: "Accept", Value: "application/json"}, {Name: "User-Agent", Value: "lookout-agent/1.0"}},
			ResponseHeaders: []*pb.Header{{Name: "Content-Type", Value: "application/json"}, {Name: "Date", Value: "Sun, 06 Dec 2026 12:00:00 GMT"}}})
	}
	return res
}

func TestResultCodecRoundTrips(t *testing.T) {
	for name, res := range map[string]*pb.RunResult{"empty": {}, "sample": sampleResult()} {
		enc, err := encodeResult(res)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := &pb.RunResult{}
		if err := decodeResult(enc, got); err != nil || !proto.Equal(got, res) {
			t.Fatalf("%s: decoded %v (%v), want %v", name, got, err, res)
		}
	}
	if err := decodeResult([]byte{compressedResult, 0xff, 0xff}, &pb.RunResult{}); err == nil {
		t.Fatal("a damaged stored result decoded without an error")
	}
}

// BenchmarkEncodeResult is the committer's cost of storing a result (go test -bench EncodeResult).
func BenchmarkEncodeResult(b *testing.B) {
	res := sampleResult()
	for b.Loop() {
		if _, err := encodeResult(res); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeResult(b *testing.B) {
	enc, _ := encodeResult(sampleResult())
	for b.Loop() {
		if err := decodeResult(enc, &pb.RunResult{}); err != nil {
			b.Fatal(err)
		}
	}
}
