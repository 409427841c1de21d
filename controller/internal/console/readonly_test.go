package console_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/lookout-synthetics/lookout/controller/internal/api"
	"github.com/lookout-synthetics/lookout/controller/internal/console"
	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// readToken stands in for the scoped results:read tokens that collectors bring (branch collect):
// the console only needs a TokenChecker, so this one token has the read scope.
type readToken string

func (r readToken) CheckToken(_ context.Context, tok string) (console.Identity, error) {
	if tok != string(r) {
		return console.Identity{}, console.ErrUnknownToken
	}
	return console.Identity{Name: "token:reader", Scope: console.ScopeRead}, nil
}

// inProcess serves a console over a real store and the real admin API on a loopback HTTP server,
// with an admin token and a read-only one; with fills in what other parts provide.
func inProcess(t *testing.T, with func(*console.Options)) (base string, st *store.Store, x *console.Index, c *console.Console) {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if _, _, _, err := st.PutMonitor(testMonitor("orders")); err != nil {
		t.Fatal(err)
	}
	x = console.NewIndex(console.IndexOptions{})
	o := console.Options{Backend: &api.Admin{Store: st, Logger: slog.Default(), Resync: func() {}}, Monitors: st, Index: x,
		Tokens: console.AnyToken{console.AdminToken("admin-secret"), readToken("read-secret")}}
	if with != nil {
		with(&o)
	}
	c, err = console.New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(func() { c.Close(); srv.Close() })
	return srv.URL, st, x, c
}

func testMonitor(name string) *pb.Monitor {
	return &pb.Monitor{Name: name, Interval: durationpb.New(time.Minute), Timeout: durationpb.New(10 * time.Second), Checkpoints: []string{"edge-1"},
		Steps: []*pb.Step{{Name: "get", Request: &pb.HttpRequest{Method: "GET", Url: "https://" + name + ".example/health"}}}}
}

// TestReadOnlySessionHasNoActions: a results:read session sees the pages without a single action,
// cannot open the audit log, and a change it posts, even with its CSRF token, is refused.
func TestReadOnlySessionHasNoActions(t *testing.T) {
	ctx := browser(t)
	base, st, _, _ := inProcess(t, nil)
	browserSignIn(t, ctx, base, "read-secret")
	actions := `document.querySelectorAll('main form[method=post], a[href="/audit"]').length`
	if n := eval[int](t, ctx, actions); n != 0 {
		t.Errorf("the overview shows a read-only session %d actions", n)
	}
	do(t, ctx, "opening the monitor", chromedp.Navigate(base+"/monitors/orders"), chromedp.WaitVisible(chromedp.CSS("pre.code")))
	if n := eval[int](t, ctx, actions); n != 0 {
		t.Errorf("the monitor page shows a read-only session %d actions", n)
	}

	cl := client(t)
	signIn(t, cl, base, "read-secret")
	get(t, cl, base+"/audit", http.StatusForbidden)
	for _, action := range []string{"run", "pause", "resume"} {
		if resp := mustDo(t, cl, http.MethodPost, base+"/monitors/orders/"+action, url.Values{"csrf": {csrfOf(t, cl, base)}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("read-only POST %s: status %d, want 403", action, resp.StatusCode)
		}
	}
	if m, err := st.Monitor("orders"); err != nil || m.Paused {
		t.Fatalf("after refused posts: monitor %v, err %v; want it unpaused", m, err)
	}

	admin := client(t)
	signIn(t, admin, base, "admin-secret")
	get(t, admin, base+"/audit", http.StatusOK)
	if n := countActions(get(t, admin, base+"/monitors/orders", http.StatusOK)); n < 2 {
		t.Errorf("an admin session sees %d action forms on the monitor page, want run now and pause", n)
	}
}

func countActions(page string) int {
	n := 0
	for _, action := range []string{"run", "pause", "resume"} {
		if strings.Contains(page, `method="post" action="/monitors/orders/`+action+`"`) {
			n++
		}
	}
	return n
}
