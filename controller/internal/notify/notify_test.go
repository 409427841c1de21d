package notify

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lookout-synthetics/lookout/controller/internal/store"
	"github.com/lookout-synthetics/lookout/controller/internal/vault"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is a real store and vault in a temp dir, with a Deliverer running on them.
type env struct {
	t  *testing.T
	st *store.Store
	v  *vault.Vault
	d  *Deliverer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	v, err := vault.Open(vault.Options{DB: st.DB(), MasterKey: key})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, v: v}
	e.d = NewDeliverer(Options{Store: st, Sender: &Sender{HTTP: &http.Client{Timeout: 5 * time.Second}, Secrets: v},
		Backoff: func(int) time.Duration { return 50 * time.Millisecond }, Metrics: NewMetrics()})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { e.d.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait(); st.Close() })
	return e
}

func (e *env) secret(name, value string) {
	e.t.Helper()
	if _, err := e.v.AddSecret(name, "", value); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) channel(c *pb.Channel) {
	e.t.Helper()
	if _, _, _, err := e.st.PutChannel(c); err != nil {
		e.t.Fatal(err)
	}
}

// enqueue queues a notification as alerting does and wakes the deliverer.
func (e *env) enqueue(channel, typ string) *pb.Notification {
	e.t.Helper()
	now := timestamppb.Now()
	n := &pb.Notification{Id: store.NewNotificationID(time.Now()), AlertId: "alt_1", Channel: channel, State: pb.NotificationState_NOTIFICATION_STATE_PENDING,
		CreatedAt: now, NextAttemptAt: now, StateStoredAt: now,
		Event: &pb.Event{Type: typ, AlertId: "alt_1", Monitor: "shop", State: "down", Level: 1, CheckpointsFailing: []string{"paris"}, Message: "step get: expected status 200, got 503", RunId: "run_1", StartedAt: now}}
	if err := e.st.UpdateAlerting(func(tx store.AlertTx) error { return tx.Enqueue(n) }); err != nil {
		e.t.Fatal(err)
	}
	e.d.Wake()
	return n
}

// settled waits until the notification is no longer pending and returns it.
func (e *env) settled(id string) *pb.Notification {
	e.t.Helper()
	var n *pb.Notification
	testutil.Eventually(e.t, "notification "+id+" to leave pending", 15*time.Second, func() bool {
		err := e.st.ViewAlerting(func(tx store.AlertTx) error { var err error; n, err = tx.Notification(id); return err })
		if err != nil {
			e.t.Fatal(err)
		}
		return n.State != pb.NotificationState_NOTIFICATION_STATE_PENDING
	})
	return n
}

// recorder is an HTTP receiver answering the given statuses (then 200), recording each request.
type recorder struct {
	mu      sync.Mutex
	answers []int
	retry   string // Retry-After on non-2xx answers
	reqs    []*http.Request
	bodies  [][]byte
	hold    chan struct{} // when set, each request waits for it
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.reqs, r.bodies = append(r.reqs, req), append(r.bodies, b)
	code := http.StatusOK
	if len(r.answers) > 0 {
		code, r.answers = r.answers[0], r.answers[1:]
	}
	hold := r.hold
	r.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-req.Context().Done():
		}
	}
	if code != http.StatusOK && r.retry != "" {
		w.Header().Set("Retry-After", r.retry)
	}
	w.WriteHeader(code)
}

func (r *recorder) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.reqs) }

func serve(t *testing.T, h http.Handler) *httptest.Server {
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

func TestWebhookRetriesThenDeliversWithOneIDAndValidSignatures(t *testing.T) {
	e := newEnv(t)
	e.secret("hook-key", "whsec_MDEyMzQ1Njc4OWFiY2RlZg==")
	rec := &recorder{answers: []int{503, 429}, retry: "1"}
	e.channel(&pb.Channel{Name: "ops", Type: pb.ChannelType_CHANNEL_TYPE_WEBHOOK, Url: serve(t, rec).URL, SigningSecret: "hook-key"})
	n := e.settled(e.enqueue("ops", "alert.opened").Id)
	if n.State != pb.NotificationState_NOTIFICATION_STATE_DELIVERED || len(n.Attempts) != 3 {
		t.Fatalf("state %v after %d attempts, want delivered at the third", n.State, len(n.Attempts))
	}
	if gap := n.Attempts[1].At.AsTime().Sub(n.Attempts[0].At.AsTime()); gap < 900*time.Millisecond {
		t.Errorf("second attempt %v after the first; Retry-After asked for 1s", gap)
	}
	key, _ := SigningKey("whsec_MDEyMzQ1Njc4OWFiY2RlZg==")
	for i, req := range rec.reqs {
		if req.Header.Get("webhook-id") != n.Id {
			t.Errorf("attempt %d: webhook-id %q, want %q", i+1, req.Header.Get("webhook-id"), n.Id)
		}
		if want := Sign(key, n.Id, req.Header.Get("webhook-timestamp"), rec.bodies[i]); req.Header.Get("webhook-signature") != want {
			t.Errorf("attempt %d: signature does not verify", i+1)
		}
	}
	var body map[string]any
	if err := json.Unmarshal(rec.bodies[2], &body); err != nil || body["type"] != "alert.opened" || body["monitor"] != "shop" || body["alert_id"] != "alt_1" {
		t.Errorf("body %s (%v), want the DESIGN §8 fields", rec.bodies[2], err)
	}
}

func TestOther4xxFailsAtOnce(t *testing.T) {
	e := newEnv(t)
	e.secret("hook-key", "raw key bytes")
	rec := &recorder{answers: []int{404}}
	e.channel(&pb.Channel{Name: "ops", Type: pb.ChannelType_CHANNEL_TYPE_WEBHOOK, Url: serve(t, rec).URL, SigningSecret: "hook-key"})
	n := e.settled(e.enqueue("ops", "alert.opened").Id)
	if n.State != pb.NotificationState_NOTIFICATION_STATE_FAILED || len(n.Attempts) != 1 || n.Attempts[0].StatusCode != 404 {
		t.Fatalf("state %v, attempts %v; want failed after one 404", n.State, n.Attempts)
	}
}

func TestMissingSecretFailsWithoutSending(t *testing.T) {
	e := newEnv(t)
	rec := &recorder{}
	e.channel(&pb.Channel{Name: "ops", Type: pb.ChannelType_CHANNEL_TYPE_WEBHOOK, Url: serve(t, rec).URL, SigningSecret: "gone"})
	n := e.settled(e.enqueue("ops", "alert.opened").Id)
	if n.State != pb.NotificationState_NOTIFICATION_STATE_FAILED || !strings.Contains(n.Attempts[0].Error, `vault secret "gone" is missing`) || rec.count() != 0 {
		t.Fatalf("state %v, attempts %v, %d requests; want failed naming the secret, nothing sent", n.State, n.Attempts, rec.count())
	}
}

func TestSlowReceiverDoesNotHoldUpOtherChannels(t *testing.T) {
	e := newEnv(t)
	e.secret("hook-key", "k")
	slow := &recorder{hold: make(chan struct{})}
	defer close(slow.hold)
	fast := &recorder{}
	e.channel(&pb.Channel{Name: "slow", Type: pb.ChannelType_CHANNEL_TYPE_WEBHOOK, Url: serve(t, slow).URL, SigningSecret: "hook-key"})
	e.channel(&pb.Channel{Name: "fast", Type: pb.ChannelType_CHANNEL_TYPE_WEBHOOK, Url: serve(t, fast).URL, SigningSecret: "hook-key"})
	e.enqueue("slow", "alert.opened")
	n := e.settled(e.enqueue("fast", "alert.opened").Id)
	if n.State != pb.NotificationState_NOTIFICATION_STATE_DELIVERED {
		t.Fatalf("fast channel: %v while the slow one hangs", n.State)
	}
}

func TestSlackAndPagerDutyBodies(t *testing.T) {
	e := newEnv(t)
	slack, pd := &recorder{}, &recorder{}
	slackURL := serve(t, slack).URL + "/services/T000/B000/XXXX"
	e.secret("slack-url", slackURL)
	e.secret("pd-key", "R0UT1NGKEY")
	e.channel(&pb.Channel{Name: "chat", Type: pb.ChannelType_CHANNEL_TYPE_SLACK, WebhookUrlSecret: "slack-url"})
	e.channel(&pb.Channel{Name: "pager", Type: pb.ChannelType_CHANNEL_TYPE_PAGERDUTY, RoutingKeySecret: "pd-key", Url: serve(t, pd).URL})
	e.settled(e.enqueue("chat", "alert.opened").Id)
	e.settled(e.enqueue("pager", "alert.opened").Id)
	e.settled(e.enqueue("pager", "alert.resolved").Id)

	var msg struct{ Text string }
	if err := json.Unmarshal(slack.bodies[0], &msg); err != nil || !strings.Contains(msg.Text, "DOWN: monitor shop is failing on paris") || !strings.Contains(msg.Text, "503") {
		t.Errorf("slack message %s (%v), want a readable line saying what is down and why", slack.bodies[0], err)
	}
	var ev []pdEvent
	for _, b := range pd.bodies {
		var x pdEvent
		if err := json.Unmarshal(b, &x); err != nil {
			t.Fatal(err)
		}
		ev = append(ev, x)
	}
	if ev[0].EventAction != "trigger" || ev[1].EventAction != "resolve" || ev[0].DedupKey != "alt_1" || ev[1].DedupKey != "alt_1" || ev[0].RoutingKey != "R0UT1NGKEY" {
		t.Errorf("pagerduty events %+v, want trigger then resolve with dedup_key alt_1", ev)
	}
	if ev[0].Payload == nil || ev[0].Payload.Severity != "critical" || ev[0].Payload.Summary == "" {
		t.Errorf("trigger payload %+v", ev[0].Payload)
	}
}

func TestRetryAfterReadsSecondsAndDates(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{"": 0, "7": 7 * time.Second, "soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second, now.Add(-time.Minute).Format(http.TimeFormat): 0} {
		if got := retryAfter(in, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}
