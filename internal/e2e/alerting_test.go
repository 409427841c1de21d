package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// hookKey is the webhook signing key; the vault holds it as "whsec_" + base64 (Standard Webhooks).
var hookKey = []byte("0123456789abcdef0123456789abcdef")

// delivery is one request the receiver took.
type delivery struct {
	ID, Timestamp string
	Body          struct {
		Type               string   `json:"type"`
		AlertID            string   `json:"alert_id"`
		Monitor            string   `json:"monitor"`
		State              string   `json:"state"`
		Level              int32    `json:"level"`
		CheckpointsFailing []string `json:"checkpoints_failing"`
		Message            string   `json:"message"`
		RunID              string   `json:"run_id"`
	}
	Status int // what the receiver answered
}

// receiver is a webhook receiver on loopback that verifies every signature as a Standard
// Webhooks consumer would, and answers with the statuses it is given, then 200.
type receiver struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	got     []delivery
	answers []int
	onHit   func(n int)
}

func newReceiver(t *testing.T, answers ...int) *receiver {
	r := &receiver{t: t, answers: answers}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	d := delivery{ID: req.Header.Get("webhook-id"), Timestamp: req.Header.Get("webhook-timestamp")}
	mac := hmac.New(sha256.New, hookKey)
	fmt.Fprintf(mac, "%s.%s.%s", d.ID, d.Timestamp, body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(req.Header.Get("webhook-signature")), []byte(want)) {
		r.t.Errorf("webhook %s: signature %q does not verify", d.ID, req.Header.Get("webhook-signature"))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if err := json.Unmarshal(body, &d.Body); err != nil {
		r.t.Errorf("webhook body is not JSON: %v: %s", err, body)
	}
	r.mu.Lock()
	d.Status = http.StatusOK
	if len(r.answers) > 0 {
		d.Status, r.answers = r.answers[0], r.answers[1:]
	}
	r.got = append(r.got, d)
	n, hit := len(r.got), r.onHit
	r.mu.Unlock()
	if hit != nil {
		hit(n)
	}
	w.WriteHeader(d.Status)
}

// deliveries returns what arrived so far with the given event type ("" for all).
func (r *receiver) deliveries(typ string) []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []delivery
	for _, d := range r.got {
		if typ == "" || d.Body.Type == typ {
			out = append(out, d)
		}
	}
	return out
}

// target is a monitored API that passes or fails on demand.
type target struct {
	srv     *httptest.Server
	failing atomic.Bool
}

func newTarget(t *testing.T) *target {
	tg := &target{}
	tg.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if tg.failing.Load() {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(tg.srv.Close)
	return tg
}

// alertingSystem is a controller process with two checkpoints (one agent each), a target and the
// signing secret in the vault.
type alertingSystem struct {
	c       *testutil.Controller
	dir     string
	flags   []string
	target  *target
	metrics string // the controller's metrics address
}

func startAlerting(t *testing.T) *alertingSystem {
	t.Helper()
	dir := t.TempDir()
	metrics := freeAddr(t)
	flags := []string{"--grpc-listen", freeAddr(t), "--nats-listen", freeAddr(t), "--metrics-listen", metrics}
	s := &alertingSystem{dir: dir, flags: flags, target: newTarget(t), metrics: metrics}
	s.c = testutil.StartController(t, filepath.Join(dir, "data"), flags...)
	startInstance(t, s.c, dir, "cp-a", "public", "cp-a-1")
	startInstance(t, s.c, dir, "cp-b", "private", "cp-b-1")
	s.c.MustCLI(t, "whsec_"+base64.StdEncoding.EncodeToString(hookKey), "vault", "add-secret", "hook-key")
	return s
}

func (s *alertingSystem) channel(t *testing.T, name, url string) {
	t.Helper()
	src := fmt.Sprintf("name: %s\ntype: webhook\nurl: %s\nsigning_secret: hook-key\n", name, url)
	s.c.MustCLI(t, "", "channel", "apply", "-f", testutil.WriteFile(t, s.dir, name+".yaml", []byte(src)))
}

// monitor applies a monitor of the target on both checkpoints with the given alerting block.
func (s *alertingSystem) monitor(t *testing.T, name, alerting string) {
	t.Helper()
	src := fmt.Sprintf(`name: %s
interval: 1h
timeout: 10s
checkpoints: [cp-a, cp-b]
steps:
  - name: get
    request:
      url: %q
    assert:
      - {source: status, comparison: equal, value: "200"}
alerting:
%s`, name, s.target.srv.URL+"/"+name, alerting)
	s.c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, s.dir, name+".yaml", []byte(src)))
}

func (s *alertingSystem) alerts(t *testing.T, monitor string) []*pb.Alert {
	t.Helper()
	out := s.c.MustCLI(t, "", "alerts", "--monitor", monitor, "-o", "json")
	resp := &pb.ListAlertsResponse{}
	if err := protojson.Unmarshal([]byte(out), resp); err != nil {
		t.Fatalf("alerts -o json: %v\n%s", err, out)
	}
	return resp.Alerts
}

func (s *alertingSystem) state(t *testing.T, monitor string) string {
	t.Helper()
	for line := range strings.SplitSeq(s.c.MustCLI(t, "", "monitor", "list"), "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[0] == monitor {
			return f[2] // NAME STATE ALERTING …
		}
	}
	return ""
}

// TestAlertOpensEscalatesAndResolves: a failure on one checkpoint is confirmed by a confirmation
// run on the other, which opens exactly one alert; the second level fires after its delay; the
// recovery resolves the alert and tells every channel notified. Every request is signed.
func TestAlertOpensEscalatesAndResolves(t *testing.T) {
	s := startAlerting(t)
	first, second := newReceiver(t), newReceiver(t)
	s.channel(t, "ops-hook", first.srv.URL)
	s.channel(t, "lead-hook", second.srv.URL)

	s.c.MustCLI(t, "", "channel", "test", "ops-hook")
	if got := first.deliveries("test"); len(got) != 1 {
		t.Fatalf("channel test delivered %d test notifications, want 1", len(got))
	}

	s.monitor(t, "shop", `  escalations:
    - {after: 0s, notify: [ops-hook]}
    - {after: 3s, notify: [lead-hook]}
`)
	// The first runs (at apply) pass; then the target breaks and one checkpoint sees it.
	testutil.Eventually(t, "the first runs", 30*time.Second, func() bool { return len(storedResults(t, s.c)) >= 2 })
	s.target.failing.Store(true)
	s.c.MustCLI(t, "", "run", "shop", "--checkpoint", "cp-a")

	testutil.Eventually(t, "alert.opened", 60*time.Second, func() bool { return len(first.deliveries("alert.opened")) > 0 })
	opened := first.deliveries("alert.opened")[0]
	if opened.Body.Monitor != "shop" || opened.Body.State != "down" || opened.Body.Level != 1 || len(opened.Body.CheckpointsFailing) != 2 {
		t.Errorf("alert.opened body = %+v, want monitor shop, state down, level 1, both checkpoints failing", opened.Body)
	}
	if !strings.Contains(opened.Body.Message, "503") {
		t.Errorf("alert.opened message %q does not say what failed", opened.Body.Message)
	}
	confirmed := false
	for _, r := range storedResults(t, s.c) {
		if r.Confirmation && r.CheckpointName == "cp-b" && r.Outcome == pb.Outcome_OUTCOME_FAILED {
			confirmed = true
		}
	}
	if !confirmed {
		t.Error("no failed confirmation run on cp-b is stored")
	}
	if st := s.state(t, "shop"); st != "down" {
		t.Errorf("monitor list state = %q, want down", st)
	}
	if out := s.c.MustCLI(t, "", "monitor", "status", "shop"); !strings.Contains(out, "alerting: down") {
		t.Errorf("monitor status does not say the monitor is down:\n%s", out)
	}
	if n := metric(t, s.metrics, "lookout_alerts_open"); n != 1 {
		t.Errorf("lookout_alerts_open = %v, want 1", n)
	}
	if v := metricWithLabels(t, s.metrics, `lookout_monitor_state{monitor="shop",state="down"}`); v != 1 {
		t.Errorf(`lookout_monitor_state{monitor="shop",state="down"} = %v, want 1`, v)
	}

	testutil.Eventually(t, "alert.escalated", 30*time.Second, func() bool { return len(second.deliveries("alert.escalated")) > 0 })
	if esc := second.deliveries("alert.escalated")[0]; esc.Body.Level != 2 || esc.Body.AlertID != opened.Body.AlertID {
		t.Errorf("alert.escalated = %+v, want level 2 of alert %s", esc.Body, opened.Body.AlertID)
	}

	s.target.failing.Store(false)
	s.c.MustCLI(t, "", "run", "shop", "--checkpoint", "cp-a", "--wait")
	s.c.MustCLI(t, "", "run", "shop", "--checkpoint", "cp-b", "--wait")
	testutil.Eventually(t, "alert.resolved on both channels", 30*time.Second, func() bool {
		return len(first.deliveries("alert.resolved")) == 1 && len(second.deliveries("alert.resolved")) == 1
	})
	if n := len(first.deliveries("alert.opened")); n != 1 {
		t.Errorf("%d alert.opened notifications, want exactly 1", n)
	}
	if r := first.deliveries("alert.resolved")[0]; r.Body.State != "ok" || r.Body.AlertID != opened.Body.AlertID {
		t.Errorf("alert.resolved = %+v, want state ok for alert %s", r.Body, opened.Body.AlertID)
	}
	als := s.alerts(t, "shop")
	if len(als) != 1 || als[0].Status != pb.AlertStatus_ALERT_STATUS_RESOLVED || als[0].Level != 2 {
		t.Fatalf("alerts = %v, want one resolved alert at level 2", als)
	}
	for _, n := range als[0].Notifications {
		if n.State != pb.NotificationState_NOTIFICATION_STATE_DELIVERED || len(n.Attempts) != 1 {
			t.Errorf("notification %s (%s → %s): state %v after %d attempts, want delivered at the first", n.Id, n.Event.GetType(), n.Channel, n.State, len(n.Attempts))
		}
	}
	if st := s.state(t, "shop"); st != "ok" {
		t.Errorf("monitor list state = %q, want ok", st)
	}
	if n := metric(t, s.metrics, "lookout_alerts_open"); n != 0 {
		t.Errorf("lookout_alerts_open = %v after recovery, want 0", n)
	}
	if v := metricWithLabels(t, s.metrics, `lookout_notifications_total{channel="ops-hook",outcome="delivered",type="alert.opened"}`); v != 1 {
		t.Errorf("delivered alert.opened notifications to ops-hook = %v, want 1", v)
	}
}

// TestNotificationSurvivesKillAndRetries: the receiver answers 503 twice, then 200; the controller
// is killed (SIGKILL) right after the first attempt, with the notification durable but not
// delivered. After the restart it is retried and delivered, with the same webhook-id every time.
func TestNotificationSurvivesKillAndRetries(t *testing.T) {
	s := startAlerting(t)
	recv := newReceiver(t, http.StatusServiceUnavailable, http.StatusServiceUnavailable)
	killed := make(chan struct{})
	var once sync.Once
	recv.onHit = func(n int) {
		if n == 1 {
			once.Do(func() { _ = s.c.Cmd.Process.Kill(); close(killed) })
		}
	}
	s.channel(t, "ops-hook", recv.srv.URL)
	s.monitor(t, "billing", "  escalations:\n    - {after: 0s, notify: [ops-hook]}\n")
	testutil.Eventually(t, "the first runs", 30*time.Second, func() bool { return len(storedResults(t, s.c)) >= 2 })
	s.target.failing.Store(true)
	s.c.MustCLI(t, "", "run", "billing", "--checkpoint", "cp-a")

	select {
	case <-killed:
	case <-time.After(60 * time.Second):
		t.Fatal("no notification attempt reached the receiver")
	}
	testutil.Eventually(t, "the killed controller to exit", 10*time.Second, s.c.Exited)
	s.c = testutil.StartController(t, filepath.Join(s.dir, "data"), s.flags...)

	testutil.Eventually(t, "delivery after the restart", 60*time.Second, func() bool {
		got := recv.deliveries("alert.opened")
		return len(got) > 0 && got[len(got)-1].Status == http.StatusOK
	})
	got := recv.deliveries("alert.opened")
	if len(got) != 3 {
		t.Fatalf("%d attempts reached the receiver, want 3 (503, 503, 200)", len(got))
	}
	for _, d := range got {
		if d.ID != got[0].ID {
			t.Errorf("webhook-id changed between retries: %q then %q", got[0].ID, d.ID)
		}
	}
	testutil.Eventually(t, "the attempts to be recorded", 10*time.Second, func() bool {
		als := s.alerts(t, "billing")
		return len(als) == 1 && len(als[0].Notifications) == 1 && als[0].Notifications[0].State == pb.NotificationState_NOTIFICATION_STATE_DELIVERED
	})
	n := s.alerts(t, "billing")[0].Notifications[0]
	// The first attempt may have died with the controller before it was recorded.
	if len(n.Attempts) < 2 || n.Attempts[len(n.Attempts)-1].StatusCode != 200 || n.Attempts[len(n.Attempts)-2].StatusCode != 503 {
		t.Errorf("recorded attempts = %v, want the 503s and the final 200", n.Attempts)
	}
}

// TestMutedMonitorNotifiesNothing: a muted monitor's alert opens (runs go on) but queues no
// notification at all; unmuting it lets the level fire.
func TestMutedMonitorNotifiesNothing(t *testing.T) {
	s := startAlerting(t)
	recv := newReceiver(t)
	s.channel(t, "ops-hook", recv.srv.URL)
	s.monitor(t, "quiet", "  escalations:\n    - {after: 0s, notify: [ops-hook]}\n")
	s.c.MustCLI(t, "", "monitor", "mute", "quiet", "--for", "1h", "--reason", "maintenance")
	if st := s.state(t, "quiet"); st != "muted" {
		t.Errorf("monitor list state = %q, want muted", st)
	}
	s.target.failing.Store(true)
	s.c.MustCLI(t, "", "run", "quiet", "--checkpoint", "cp-a")
	testutil.Eventually(t, "the alert to open", 60*time.Second, func() bool { return len(s.alerts(t, "quiet")) == 1 })
	if al := s.alerts(t, "quiet")[0]; len(al.Notifications) != 0 || al.Level != 0 {
		t.Fatalf("a muted monitor's alert queued %d notifications (level %d), want none", len(al.Notifications), al.Level)
	}
	if got := recv.deliveries(""); len(got) != 0 {
		t.Fatalf("the receiver got %d requests from a muted monitor", len(got))
	}
	s.c.MustCLI(t, "", "monitor", "unmute", "quiet")
	testutil.Eventually(t, "alert.opened after unmute", 30*time.Second, func() bool { return len(recv.deliveries("alert.opened")) == 1 })
}

// TestAlertingBadInputIsRefusedWithFieldPaths: each mistake gets a clear error naming its field.
func TestAlertingBadInputIsRefusedWithFieldPaths(t *testing.T) {
	dir := t.TempDir()
	c := testutil.StartController(t, filepath.Join(dir, "data"))
	c.MustCLI(t, "", "checkpoint", "token", "--name", "cp-a", "--kind", "public")
	c.MustCLI(t, "whsec_"+base64.StdEncoding.EncodeToString(hookKey), "vault", "add-secret", "hook-key")
	c.MustCLI(t, "", "channel", "apply", "-f", testutil.WriteFile(t, dir, "ok.yaml", []byte("name: ops-hook\ntype: webhook\nurl: http://127.0.0.1:9/x\nsigning_secret: hook-key\n")))
	monitor := func(alerting string) string {
		return "name: m\ninterval: 1m\ncheckpoints: [cp-a]\nsteps:\n  - request: {url: \"http://127.0.0.1:9/\"}\nalerting:\n" + alerting
	}
	level := "    - {after: 0s, notify: [ops-hook]}\n"
	cases := []struct {
		name, cmd, file string
		want            []string
	}{
		{"unknown channel in a monitor", "monitor", monitor("  escalations:\n    - {notify: [nobody]}\n"),
			[]string{"alerting.escalations[0].notify[0]", `channel "nobody" does not exist`}},
		{"a sixth escalation level", "monitor", monitor("  escalations:\n" + strings.Repeat(level, 6)),
			[]string{"alerting.escalations[3]", "at most 3 escalation levels"}},
		{"unknown field in a monitor's alerting", "monitor", monitor("  escalate: []\n  escalations:\n" + level),
			[]string{"alerting.escalate"}},
		{"a channel without its secret", "channel", "name: h\ntype: webhook\nurl: https://hooks.example.net/x\nsigning_secret: missing-key\n",
			[]string{"signing_secret", `vault secret "missing-key" does not exist`}},
		{"a non-loopback SMTP relay without TLS", "channel", "name: mail\ntype: email\nsmtp: {host: smtp.example.net, tls: none}\nfrom: a@example.net\nto: [b@example.net]\n",
			[]string{"smtp.tls", "only for an SMTP relay on loopback"}},
		{"a secret written inline", "channel", "name: s\ntype: slack\nwebhook_url_secret: \"https://hooks.slack.com/services/T/B/X\"\n",
			[]string{"webhook_url_secret", "is not a vault item name"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.CLI(t, "", tc.cmd, "apply", "-f", testutil.WriteFile(t, t.TempDir(), "f.yaml", []byte(tc.file)))
			if r.Code == 0 {
				t.Fatalf("accepted:\n%s", tc.file)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Stderr, w) {
					t.Errorf("error does not mention %q:\n%s", w, r.Stderr)
				}
			}
			if strings.Contains(r.Stderr, "hooks.slack.com/services") {
				t.Errorf("the error repeats the secret:\n%s", r.Stderr)
			}
		})
	}
	if out := c.MustCLI(t, "", "monitor", "list"); strings.Contains(out, "\nm ") {
		t.Errorf("a refused monitor was stored:\n%s", out)
	}
	if r := c.CLI(t, "", "channel", "test", "ops-hook"); r.Code == 0 || !strings.Contains(r.Stderr, "was not delivered") {
		t.Errorf("channel test of a receiver that is not there: exit %d, stderr %q; want a failure saying so", r.Code, r.Stderr)
	}
	r := c.CLI(t, "", "vault", "delete", "hook-key")
	if r.Code == 0 || !strings.Contains(r.Stderr, "ops-hook") {
		t.Errorf("deleting a secret a channel uses: exit %d, stderr %q; want a refusal naming channel ops-hook", r.Code, r.Stderr)
	}
}
