package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// TestBrowserConsole drives the real controller's console in headless Chromium: sign in, watch
// the overview update live when a run finishes, open the run's waterfall, check that what a
// hostile target answered never runs as script, use an admin action, and see a forged cross-site
// POST refused.
func TestBrowserConsole(t *testing.T) {
	ctx := browser(t)
	s := startSystem(t)
	s.startAgent(t, "edge-1")
	s.applyMonitor(t, "hostile-api", hostileTarget(t), "edge-1")
	s.applyMonitor(t, "catalog-api", friendlyTarget(t), "edge-1")
	s.applyMonitor(t, "legacy-api", "http://127.0.0.1:9/refused", "edge-1")

	browserSignIn(t, ctx, s.url, s.token)
	cell := `document.querySelector('#grid tr[data-m]:has(a[href="/monitors/hostile-api"]) td')`
	link := cell + `.querySelector("a") && ` + cell + `.querySelector("a").getAttribute("href")`
	// Applying a monitor runs it once: the overview fills with that result, live or on load.
	do(t, ctx, "waiting for the first result", chromedp.Poll[chromedp.Void](cell+`.className.startsWith("s-fail")`, chromedp.WithPollingTimeout(30*time.Second)))

	t.Run("overview updates live when a run finishes", func(t *testing.T) {
		first := eval[string](t, ctx, link)
		before := eval[string](t, ctx, `window.__marker = "no reload"; JSON.stringify(document.getElementById("grid").getBoundingClientRect())`)
		do(t, ctx, "waiting for the live stream", chromedp.Poll[chromedp.Void](`document.getElementById("live").classList.contains("on")`, chromedp.WithPollingTimeout(20*time.Second)))
		s.c.CLI(t, "", "run", "hostile-api", "--wait") // fails its "all good" assertion; the exit status says so
		do(t, ctx, "waiting for the cell to show the new run", chromedp.Poll[chromedp.Void](link+` !== `+jsString(first), chromedp.WithPollingTimeout(30*time.Second)))
		if got := eval[string](t, ctx, `window.__marker`); got != "no reload" {
			t.Fatalf("the page was reloaded (marker %q): the update must arrive over /events", got)
		}
		after := eval[string](t, ctx, `JSON.stringify(document.getElementById("grid").getBoundingClientRect())`)
		if before != after {
			t.Errorf("the grid moved on a live update (layout jump): before %s, after %s", before, after)
		}
		if got := eval[string](t, ctx, cell+`.querySelector("a").getAttribute("href")`); !strings.HasPrefix(got, "/runs/run_") {
			t.Errorf("updated cell links to %q, want /runs/<run id>", got)
		}
		screenshot(t, ctx, "console-overview.png")
	})

	t.Run("run page draws the waterfall and never runs the target's script", func(t *testing.T) {
		do(t, ctx, "opening the run", chromedp.Click(chromedp.CSS(`#grid tr[data-m]:has(a[href="/monitors/hostile-api"]) td a`)), chromedp.WaitVisible(chromedp.CSS("table.waterfall")))
		if n := eval[int](t, ctx, `document.querySelectorAll("table.waterfall rect").length`); n == 0 {
			t.Error("the waterfall has no bars")
		}
		if got := eval[string](t, ctx, `document.querySelector("pre.body").textContent`); got != hostileBody {
			t.Errorf("body excerpt shown as %q, want the target's body as text", got)
		}
		if n := eval[int](t, ctx, `Array.from(document.querySelectorAll("td")).filter(td => td.textContent === `+jsString(hostileHeader)+`).length`); n != 1 {
			t.Errorf("the hostile response header is shown %d times as text, want once", n)
		}
		assertNoScriptRan(t, ctx)
		screenshot(t, ctx, "console-run.png")
	})

	t.Run("admin runs a monitor now from its page", func(t *testing.T) {
		do(t, ctx, "opening the monitor", chromedp.Navigate(s.url+"/monitors/hostile-api"), chromedp.WaitVisible(chromedp.ID("run-now")))
		assertNoScriptRan(t, ctx)
		screenshot(t, ctx, "console-monitor.png")
		clickAndLoad(t, ctx, "clicking run now", chromedp.ID("run-now"))
		if path := eval[string](t, ctx, `location.pathname`); !strings.HasPrefix(path, "/runs/run_") {
			t.Fatalf("run now led to %s, want the new run's page", path)
		}
	})

	t.Run("a forged cross-site POST is refused", func(t *testing.T) {
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<form method="post" action="%s/monitors/hostile-api/pause"><input name="csrf" value="guess"><button id="win">Win a prize</button></form>`, s.url)
		}))
		defer evil.Close()
		do(t, ctx, "visiting the forging page", chromedp.Navigate(evil.URL))
		do(t, ctx, "submitting the forged form", chromedp.Click(chromedp.ID("win")))
		waitLocation(t, ctx, s.url)
		if body := eval[string](t, ctx, `document.body.textContent`); !strings.Contains(body, "another site") {
			t.Errorf("the forged POST was answered with %q, want the cross-site refusal", body)
		}
		out := s.c.MustCLI(t, "", "monitor", "list")
		if strings.Contains(out, "paused") {
			t.Fatalf("the forged POST paused the monitor:\n%s", out)
		}
	})

	t.Run("readable on a phone", func(t *testing.T) {
		do(t, ctx, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(s.url+"/"), chromedp.WaitVisible(chromedp.ID("grid")))
		if over := eval[bool](t, ctx, `document.documentElement.scrollWidth > window.innerWidth`); over {
			t.Error("the overview is wider than a phone's screen: only the grid may scroll sideways")
		}
		screenshot(t, ctx, "console-phone.png")
		do(t, ctx, "phone run page", chromedp.Navigate(s.url+eval[string](t, ctx, `document.querySelector('#grid tr[data-m]:has(a[href="/monitors/hostile-api"]) td a').getAttribute("href")`)),
			chromedp.WaitVisible(chromedp.CSS("table.waterfall")))
		if over := eval[bool](t, ctx, `document.documentElement.scrollWidth > window.innerWidth`); over {
			t.Error("the run page is wider than a phone's screen")
		}
	})

	t.Run("overview and monitor page show alerting's state", func(t *testing.T) {
		// hostile-api failed its run and its confirmation run: down. legacy-api is muted.
		s.c.MustCLI(t, "", "monitor", "mute", "--for", "1h", "legacy-api")
		row := func(name string) string {
			return `(document.querySelector('#grid tr[data-m]:has(a[href="/monitors/` + name + `"])') || {}).className`
		}
		testutil.Eventually(t, "hostile-api down and legacy-api muted on the overview", 60*time.Second, func() bool {
			do(t, ctx, "loading the overview", chromedp.Navigate(s.url+"/"), chromedp.WaitVisible(chromedp.ID("grid")))
			return eval[string](t, ctx, row("hostile-api")) == "r-down" && eval[string](t, ctx, row("legacy-api")) == "r-muted"
		})
		for name, want := range map[string]string{"hostile-api": "down", "legacy-api": "muted"} {
			do(t, ctx, "opening "+name, chromedp.Navigate(s.url+"/monitors/"+name), chromedp.WaitVisible(chromedp.CSS("h1 .badge")))
			if got := eval[string](t, ctx, `document.querySelector("h1 .badge").textContent`); got != want {
				t.Errorf("%s's page shows state %q, want %q", name, got, want)
			}
		}
	})
}

// clickAndLoad clicks and waits for the page that the click loads.
func clickAndLoad(t *testing.T, ctx context.Context, what string, sel chromedp.ID) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(sel))); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitLocation waits until the tab shows a loaded page whose address starts with prefix. A
// question asked while the page is being replaced fails; it is asked again.
func waitLocation(t *testing.T, ctx context.Context, prefix string) {
	t.Helper()
	testutil.Eventually(t, "the tab to reach "+prefix, 30*time.Second, func() bool {
		ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		href, err := chromedp.Run(ectx, chromedp.Evaluate[string](`document.readyState === "complete" ? location.href : ""`))
		return err == nil && strings.HasPrefix(href, prefix)
	})
}

// assertNoScriptRan fails when anything the target sent ran as script or became markup.
func assertNoScriptRan(t *testing.T, ctx context.Context) {
	t.Helper()
	if got := eval[string](t, ctx, `String(window.__pwned)`); got != "undefined" {
		t.Errorf("the target's script ran in the console: window.__pwned = %q", got)
	}
	if title := eval[string](t, ctx, `document.title`); strings.Contains(title, "owned") {
		t.Errorf("the target changed the page title to %q", title)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("main script, main iframe, main img, main [onerror], main [onload]").length`); n != 0 {
		t.Errorf("%d elements from the target's answer became markup", n)
	}
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "<", `\x3c`)
	return `"` + r.Replace(s) + `"`
}
