package runner

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	lookoutv1 "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var fixedNow = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

func fixedClock() time.Time { return fixedNow }

func TestRunResultFields(t *testing.T) {
	t.Parallel()
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-B", "2")
		w.Header().Set("X-A", "1")
		fmt.Fprint(w, "ok")
	}))
	step := get("home", srv.URL+"/home", statusIs("200"))
	step.Request.Headers = []*lookoutv1.Header{{Name: "X-Zeta", Value: "z"}, {Name: "Accept", Value: "text/plain"}}
	res := runMonitor(t, New(Options{Now: fixedClock}), monitor(step), nil)

	want := &lookoutv1.RunResult{
		RunId: "run-1", Attempt: 1, MonitorId: "mon-1", MonitorName: "test-monitor", CheckpointId: "cp-1",
		StartedAt: timestamppb.New(fixedNow), FinishedAt: timestamppb.New(fixedNow),
		Outcome: lookoutv1.Outcome_OUTCOME_PASSED,
		Steps: []*lookoutv1.StepResult{{
			Index: 0, Name: "home", Passed: true, Method: "GET", Url: srv.URL + "/home",
			StatusCode: 200, StatusText: "OK", ResolvedIp: "127.0.0.1", HttpVersion: "HTTP/1.1",
			RequestHeaders: []*lookoutv1.Header{
				{Name: "Accept", Value: "text/plain"}, {Name: "User-Agent", Value: userAgent}, {Name: "X-Zeta", Value: "z"},
			},
			ResponseHeaders: []*lookoutv1.Header{
				{Name: "Content-Length", Value: "2"}, {Name: "Content-Type", Value: "text/plain; charset=utf-8"},
				{Name: "Date", Value: "ignored"}, {Name: "X-A", Value: "1"}, {Name: "X-B", Value: "2"},
			},
			BodyExcerpt: "ok", BodySize: 2, Attempts: 1,
			Assertions: []*lookoutv1.AssertionResult{
				{Assertion: statusIs("200"), Passed: true, Actual: "200", Message: "expected status 200, got 200"},
			},
		}},
	}
	opts := cmp.Options{
		protocmp.Transform(),
		protocmp.IgnoreFields(&lookoutv1.StepResult{}, "timings", "duration"),
	}
	got := res.GetSteps()[0]
	for _, h := range got.GetResponseHeaders() {
		if h.GetName() == "Date" {
			h.Value = "ignored" // changes every second
		}
	}
	if diff := cmp.Diff(res, want, opts); diff != "" {
		t.Errorf("result (-got +want):\n%s", diff)
	}
	if got.GetTimings().GetTotal().AsDuration() <= 0 || got.GetTimings().GetConnect().AsDuration() <= 0 {
		t.Errorf("timings = %v, want positive total and connect", got.GetTimings())
	}
	if got.GetDuration().AsDuration() < got.GetTimings().GetTotal().AsDuration() {
		t.Errorf("duration %v < total %v", got.GetDuration().AsDuration(), got.GetTimings().GetTotal().AsDuration())
	}
}

func TestVariableChain(t *testing.T) {
	t.Parallel()
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/token":
			fmt.Fprint(w, `{"access_token":"tok-1","items":[{"id":7}]}`)
		case "/orders/7":
			if r.Header.Get("X-Token") != "tok-1" {
				http.Error(w, "bad token", http.StatusUnauthorized)
				return
			}
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "s-9"})
			fmt.Fprint(w, "orders for tok-1")
		}
	}))
	m := monitor(
		&lookoutv1.Step{Name: "token",
			Request: &lookoutv1.HttpRequest{Method: "post", Url: "{{base}}/token", Body: `{"client":"{{client}}"}`},
			Extract: []*lookoutv1.Extraction{
				{Name: "token", From: lookoutv1.ExtractFrom_EXTRACT_FROM_JSON, Path: "$.access_token"},
				{Name: "id", From: lookoutv1.ExtractFrom_EXTRACT_FROM_JSON, Path: "items[0].id"},
				{Name: "client", From: lookoutv1.ExtractFrom_EXTRACT_FROM_STATUS}, // overwrites the predefined one
			},
		},
		&lookoutv1.Step{Name: "orders",
			Request: &lookoutv1.HttpRequest{Url: "{{base}}/orders/{{ id }}",
				Headers: []*lookoutv1.Header{{Name: "X-Token", Value: "{{token}}"}, {Name: "X-Client", Value: "{{client}}"}}},
			Extract: []*lookoutv1.Extraction{{Name: "session", From: lookoutv1.ExtractFrom_EXTRACT_FROM_COOKIE, Path: "session"}},
			Assert:  []*lookoutv1.Assertion{statusIs("200")},
		},
	)
	m.Variables = map[string]string{"base": srv.URL, "client": "lookout"}
	res := runMonitor(t, New(Options{}), m, nil)
	if res.GetOutcome() != lookoutv1.Outcome_OUTCOME_PASSED {
		t.Fatalf("outcome %v: %s", res.GetOutcome(), res.GetMessage())
	}
	var vars []*lookoutv1.ExtractedVariable
	var headers []*lookoutv1.Header
	for _, st := range res.GetSteps() {
		vars = append(vars, st.GetVariables()...)
	}
	for _, h := range res.GetSteps()[1].GetRequestHeaders() {
		if strings.HasPrefix(h.GetName(), "X-") {
			headers = append(headers, h)
		}
	}
	wantVars := []*lookoutv1.ExtractedVariable{
		{Name: "token", Value: "tok-1"}, {Name: "id", Value: "7"}, {Name: "client", Value: "200"}, {Name: "session", Value: "s-9"},
	}
	if diff := cmp.Diff(vars, wantVars, protocmp.Transform()); diff != "" {
		t.Errorf("variables (-got +want):\n%s", diff)
	}
	wantHeaders := []*lookoutv1.Header{{Name: "X-Client", Value: "200"}, {Name: "X-Token", Value: "tok-1"}}
	if diff := cmp.Diff(headers, wantHeaders, protocmp.Transform()); diff != "" {
		t.Errorf("headers of step 2 (-got +want):\n%s", diff)
	}
	if got, want := res.GetSteps()[1].GetUrl(), srv.URL+"/orders/7"; got != want {
		t.Errorf("url = %q, want %q", got, want)
	}
}

func TestUndefinedVariable(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := newServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	step := get("one", srv.URL+"/x?id={{missing}}")
	step.Retry = &lookoutv1.Retry{MaxAttempts: 3}
	res := runMonitor(t, New(Options{}), monitor(step, get("two", srv.URL)), nil)
	want := []stepBrief{
		{Name: "one", Class: lookoutv1.ErrorClass_ERROR_CLASS_VARIABLE, Error: `variable "missing" is not defined`, Attempts: 1},
		{Name: "two", Skipped: true},
	}
	if diff := cmp.Diff(briefs(res), want); diff != "" {
		t.Errorf("steps (-got +want):\n%s", diff)
	}
	if got, want := res.GetMessage(), `step "one": variable "missing" is not defined`; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	if res.GetErrorClass() != lookoutv1.ErrorClass_ERROR_CLASS_VARIABLE || res.GetOutcome() != lookoutv1.Outcome_OUTCOME_FAILED {
		t.Errorf("class, outcome = %v, %v", res.GetErrorClass(), res.GetOutcome())
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("server got %d requests, want none", n)
	}
}

func TestAutomaticVariablesSent(t *testing.T) {
	t.Parallel()
	got := make(chan http.Header, 1)
	srv := newServer(t, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got <- r.Header.Clone() }))
	step := get("s", srv.URL)
	step.Request.Headers = []*lookoutv1.Header{
		{Name: "X-Guid", Value: "{{@RandomGuid}}"},
		{Name: "X-Int", Value: "{{@RandomInt(5,5)}}"},
		{Name: "X-Date", Value: "{{@DateTime(yyyy-MM-dd HH:mm,+1d)}}"},
	}
	runMonitor(t, New(Options{Now: fixedClock}), monitor(step), nil)
	h := <-got
	if g := h.Get("X-Guid"); len(g) != 36 || g[14] != '4' {
		t.Errorf("X-Guid = %q, want a version 4 UUID", g)
	}
	if diff := cmp.Diff([]string{h.Get("X-Int"), h.Get("X-Date")}, []string{"5", "2026-03-15 09:26"}); diff != "" {
		t.Errorf("automatic variables (-got +want):\n%s", diff)
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		maxAttempts int32
		want        stepBrief
	}{
		"succeeds on the third attempt": {maxAttempts: 3, want: stepBrief{Name: "flaky", Passed: true, Status: 200, Attempts: 3}},
		"gives up after two": {maxAttempts: 2, want: stepBrief{Name: "flaky", Status: 503, Attempts: 2,
			Class: lookoutv1.ErrorClass_ERROR_CLASS_ASSERTION, Error: "expected status 200, got 503"}},
		"no retry": {want: stepBrief{Name: "flaky", Status: 503, Attempts: 1,
			Class: lookoutv1.ErrorClass_ERROR_CLASS_ASSERTION, Error: "expected status 200, got 503"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if calls.Add(1) < 3 {
					w.WriteHeader(http.StatusServiceUnavailable)
				}
			}))
			step := get("flaky", srv.URL, statusIs("200"))
			step.Retry = &lookoutv1.Retry{MaxAttempts: tt.maxAttempts, Wait: durationpb.New(time.Millisecond)}
			res := runMonitor(t, New(Options{}), monitor(step), nil)
			if diff := cmp.Diff(briefs(res), []stepBrief{tt.want}); diff != "" {
				t.Errorf("steps (-got +want):\n%s", diff)
			}
		})
	}
}

func TestTimeouts(t *testing.T) {
	t.Parallel()
	srv := newServer(t, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	slow := get("slow", srv.URL)
	slow.Timeout = durationpb.New(100 * time.Millisecond)
	slowNoStepTimeout := get("slow", srv.URL)
	wait := &lookoutv1.Step{Name: "pause", Wait: durationpb.New(time.Minute)}

	tests := map[string]struct {
		m    *lookoutv1.Monitor
		want []stepBrief
	}{
		"step timeout": {m: monitor(slow, get("next", srv.URL)), want: []stepBrief{
			{Name: "slow", Class: lookoutv1.ErrorClass_ERROR_CLASS_TIMEOUT, Attempts: 1,
				Error: "the step timeout of 100ms was reached while waiting for the response"},
			{Name: "next", Skipped: true},
		}},
		"run timeout during a request": {m: withTimeout(monitor(slowNoStepTimeout), 150*time.Millisecond), want: []stepBrief{
			{Name: "slow", Class: lookoutv1.ErrorClass_ERROR_CLASS_TIMEOUT, Attempts: 1,
				Error: "the run's time limit was reached while waiting for the response"},
		}},
		"run timeout during a wait": {m: withTimeout(monitor(wait), 50*time.Millisecond), want: []stepBrief{
			{Name: "pause", Class: lookoutv1.ErrorClass_ERROR_CLASS_TIMEOUT, Attempts: 1,
				Error: "the run's time limit was reached during the wait"},
		}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res := runMonitor(t, New(Options{}), tt.m, nil)
			if diff := cmp.Diff(briefs(res), tt.want); diff != "" {
				t.Errorf("steps (-got +want):\n%s", diff)
			}
		})
	}
}

func withTimeout(m *lookoutv1.Monitor, d time.Duration) *lookoutv1.Monitor {
	m.Timeout = durationpb.New(d)
	return m
}

func TestWaitStep(t *testing.T) {
	t.Parallel()
	m := monitor(&lookoutv1.Step{Name: "pause", Wait: durationpb.New(20 * time.Millisecond)})
	res := runMonitor(t, New(Options{}), m, nil)
	if diff := cmp.Diff(briefs(res), []stepBrief{{Name: "pause", Passed: true, Attempts: 1}}); diff != "" {
		t.Errorf("steps (-got +want):\n%s", diff)
	}
	if d := res.GetSteps()[0].GetDuration().AsDuration(); d < 20*time.Millisecond {
		t.Errorf("duration = %v, want at least 20ms", d)
	}
}

func TestConnectionRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	res := runMonitor(t, New(Options{}), monitor(get("down", "http://"+addr+"/")), nil)
	want := []stepBrief{{Name: "down", Class: lookoutv1.ErrorClass_ERROR_CLASS_CONNECT, Attempts: 1,
		Error: "could not connect to " + addr + ": connection refused"}}
	if diff := cmp.Diff(briefs(res), want); diff != "" {
		t.Errorf("steps (-got +want):\n%s", diff)
	}
}

func TestRedirects(t *testing.T) {
	t.Parallel()
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/old":
			http.Redirect(w, r, "/new", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		default:
			fmt.Fprint(w, "new")
		}
	}))
	tests := map[string]struct {
		step *lookoutv1.Step
		want stepBrief
		body string
	}{
		"followed": {step: get("r", srv.URL+"/old"), want: stepBrief{Name: "r", Passed: true, Status: 200, Attempts: 1}, body: "new"},
		"not followed when asserting 302": {step: get("r", srv.URL+"/old", statusIs("302")),
			want: stepBrief{Name: "r", Passed: true, Status: 302, Attempts: 1}, body: "<a href=\"/new\">Found</a>.\n\n"},
		"too many": {step: get("r", srv.URL+"/loop"), want: stepBrief{Name: "r", Attempts: 1,
			Class: lookoutv1.ErrorClass_ERROR_CLASS_HTTP, Error: "stopped after 50 redirects"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res := runMonitor(t, New(Options{}), monitor(tt.step), nil)
			if diff := cmp.Diff(briefs(res), []stepBrief{tt.want}); diff != "" {
				t.Errorf("steps (-got +want):\n%s", diff)
			}
			if got := res.GetSteps()[0].GetBodyExcerpt(); got != tt.body {
				t.Errorf("body = %q, want %q", got, tt.body)
			}
		})
	}
}

func TestBodyCap(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("0123456789", 10_000) // 100,000 bytes
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			w.Write([]byte(big[:50_000]))
			w.(http.Flusher).Flush()
			w.Write([]byte(big[50_000:]))
		case "/latin1":
			w.Write([]byte("caf\xe9 ok"))
		default:
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			w.Write([]byte(big))
		}
	}))
	type got struct {
		Size       int64
		Truncated  bool
		ExcerptLen int
	}
	// A failing step keeps the capped excerpt (what a user debugging it reads); a passing one a
	// short one (results are stored for weeks, and most pass).
	tests := map[string]struct {
		cap  int64
		path string
		fail bool
		want got
	}{
		"failing, excerpt capped":             {path: "/", fail: true, want: got{Size: 100_000, ExcerptLen: 64 << 10}},
		"passing, short excerpt":              {path: "/", want: got{Size: 100_000, ExcerptLen: 512}},
		"failing, truncated, length declared": {cap: 1000, path: "/", fail: true, want: got{Size: 100_000, Truncated: true, ExcerptLen: 1000}},
		"failing, truncated, length unknown":  {cap: 1000, path: "/chunked", fail: true, want: got{Size: 1000, Truncated: true, ExcerptLen: 1000}},
		"passing, truncated":                  {cap: 1000, path: "/chunked", want: got{Size: 1000, Truncated: true, ExcerptLen: 512}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			size := &lookoutv1.Assertion{Source: lookoutv1.AssertSource_ASSERT_SOURCE_SIZE,
				Comparison: lookoutv1.Comparison_COMPARISON_GREATER_THAN, Value: "999"}
			if tt.fail {
				size.Comparison = lookoutv1.Comparison_COMPARISON_LESS_THAN
			}
			res := runMonitor(t, New(Options{BodyCap: tt.cap}), monitor(get("s", srv.URL+tt.path, size)), nil)
			st := res.GetSteps()[0]
			if diff := cmp.Diff(got{st.GetBodySize(), st.GetBodyTruncated(), len(st.GetBodyExcerpt())}, tt.want); diff != "" {
				t.Errorf("body (-got +want):\n%s", diff)
			}
			if st.GetPassed() == tt.fail {
				t.Errorf("step passed=%v, want %v (error %q)", st.GetPassed(), !tt.fail, st.GetError())
			}
		})
	}
	t.Run("invalid UTF-8 is replaced", func(t *testing.T) {
		t.Parallel()
		res := runMonitor(t, New(Options{}), monitor(get("s", srv.URL+"/latin1")), nil)
		if got := res.GetSteps()[0].GetBodyExcerpt(); got != "caf\uFFFD ok" || !utf8.ValidString(got) {
			t.Errorf("excerpt = %q, want %q", got, "caf\uFFFD ok")
		}
	})
}

func TestSkippedAfterFailure(t *testing.T) {
	t.Parallel()
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	res := runMonitor(t, New(Options{}), monitor(
		get("", srv.URL, statusIs("503")),
		get("orders", srv.URL, statusIs("200")),
		&lookoutv1.Step{Name: "pause", Wait: durationpb.New(time.Hour)},
		get("last", srv.URL),
	), nil)
	want := []stepBrief{
		{Passed: true, Status: 503, Attempts: 1},
		{Name: "orders", Status: 503, Attempts: 1, Class: lookoutv1.ErrorClass_ERROR_CLASS_ASSERTION, Error: "expected status 200, got 503"},
		{Name: "pause", Skipped: true},
		{Name: "last", Skipped: true},
	}
	if diff := cmp.Diff(briefs(res), want); diff != "" {
		t.Errorf("steps (-got +want):\n%s", diff)
	}
	if got, want := res.GetMessage(), `step "orders": expected status 200, got 503`; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	for i, st := range res.GetSteps() {
		if st.GetIndex() != int32(i) {
			t.Errorf("step %d has index %d", i, st.GetIndex())
		}
	}
}

func TestRunWithoutMonitor(t *testing.T) {
	t.Parallel()
	res := New(Options{}).Run(t.Context(), &lookoutv1.RunRequest{RunId: "r"}, nil)
	if res.GetOutcome() != lookoutv1.Outcome_OUTCOME_ERROR || res.GetErrorClass() != lookoutv1.ErrorClass_ERROR_CLASS_INTERNAL {
		t.Errorf("got %v / %v, want ERROR / INTERNAL", res.GetOutcome(), res.GetErrorClass())
	}
}

// jsonHandler answers with body as application/json.
func jsonHandler(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	}
}
