package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"

	"github.com/lookout-synthetics/lookout/internal/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.RemoveBinaries()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines left running:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// system is a real controller serving the console on loopback, with its admin token.
type system struct {
	c     *testutil.Controller
	url   string
	token string
	dir   string
}

// startSystem runs `lookout-controller serve --http-listen 127.0.0.1:0` with extra flags.
func startSystem(t *testing.T, extra ...string) *system {
	t.Helper()
	dir := t.TempDir()
	c := testutil.StartController(t, filepath.Join(dir, "data"), append([]string{"--http-listen", "127.0.0.1:0"}, extra...)...)
	u := c.WaitFor(t, "the console to be ready", 30*time.Second, consoleURL)
	tok, err := os.ReadFile(c.TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	return &system{c: c, url: u, token: strings.TrimSpace(string(tok)), dir: dir}
}

func consoleURL(out string) string {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var line struct{ Msg, URL string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "console ready" {
			return line.URL
		}
	}
	return ""
}

// startAgent enrolls and starts a real agent for a public checkpoint.
func (s *system) startAgent(t *testing.T, checkpoint string) {
	t.Helper()
	tok := strings.TrimSpace(s.c.MustCLI(t, "", "checkpoint", "token", "--name", checkpoint, "--kind", "public"))
	_, agentBin := testutil.Binaries(t)
	p := testutil.Start(t, "agent "+checkpoint, agentBin, "--controller", s.c.Addr, "--token-file", testutil.WriteFile(t, s.dir, checkpoint+".token", []byte(tok)),
		"--state-dir", filepath.Join(s.dir, "agent-"+checkpoint), "--ca-file", s.c.CAFile, "--log-format", "json")
	p.WaitFor(t, "agent "+checkpoint+" to be ready", 30*time.Second, testutil.Contains(`"msg":"agent ready"`))
}

// applyMonitor applies a monitor of one GET step to target, run hourly (so only "run now" runs it).
func (s *system) applyMonitor(t *testing.T, name, target string, checkpoints ...string) {
	t.Helper()
	src := fmt.Sprintf(`name: %s
interval: 1h
timeout: 10s
checkpoints: [%s]
steps:
  - name: fetch page
    request:
      url: %q
    assert:
      - {source: status, comparison: equal, value: "200"}
      - {source: body, comparison: contains, value: "all good"}
`, name, strings.Join(checkpoints, ", "), target)
	s.c.MustCLI(t, "", "monitor", "apply", "-f", testutil.WriteFile(t, t.TempDir(), name+".yaml", []byte(src)))
}

// hostileBody is what a compromised or odd API might answer: markup and script everywhere.
const hostileBody = `<html><head><title>owned</title><script>window.__pwned = "body script"; document.title = "owned";</script></head>` +
	`<body><img src="x" onerror="window.__pwned = 'img onerror'"><svg onload="window.__pwned='svg onload'"></svg>` +
	`<iframe srcdoc="<script>parent.__pwned='iframe'</script>"></iframe></body></html>`

const hostileHeader = `<script>window.__pwned="header"</script>`

// hostileTarget answers every request with hostileBody (HTML) and a header holding a script.
func hostileTarget(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("X-Evil", hostileHeader)
		_, _ = w.Write([]byte(hostileBody))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/page?q=<script>alert(1)</script>"
}

// friendlyTarget answers as the monitors of applyMonitor expect, so their runs pass.
func friendlyTarget(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"status": "all good"}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/health"
}

// client is an HTTP client with its own cookie jar that does not follow redirects.
func client(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// signIn posts the token to /login and returns the response (a redirect to / on success).
func signIn(t *testing.T, cl *http.Client, base, token string) *http.Response {
	t.Helper()
	resp, err := cl.PostForm(base+"/login", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfOf reads the session's CSRF token from a page's sign-out form, as a browser would submit it.
func csrfOf(t *testing.T, cl *http.Client, base string) string {
	t.Helper()
	body := get(t, cl, base+"/", http.StatusOK)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF field on the overview:\n%s", body)
	}
	return m[1]
}

func get(t *testing.T, cl *http.Client, u string, want int) string {
	t.Helper()
	resp, err := cl.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: status %d, want %d\n%s", u, resp.StatusCode, want, b.String())
	}
	return b.String()
}

// browser is a headless Chromium tab at 1280×900, or a skip when Chromium is not installed.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("browser tests skipped: Chromium is not installed (Debian: apt-get install chromium, or run scripts/install-deps.sh)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("starting Chromium at %s: %v", path, err)
	}
	return ctx
}

// do runs browser actions with a deadline, failing the test with what it was doing.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// browserSignIn signs in through the form and waits for the overview.
func browserSignIn(t *testing.T, ctx context.Context, base, token string) {
	t.Helper()
	do(t, ctx, "signing in", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token), chromedp.Submit(chromedp.ID("token")), chromedp.WaitVisible(chromedp.ID("grid")))
}

// screenshot saves the page into $LOOKOUT_SCREENSHOTS (docs/ when refreshing the README's
// pictures), or into the test's temporary directory.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("LOOKOUT_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
