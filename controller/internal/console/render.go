package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageNames are the templates in templates/, each rendered inside layout.html.
var pageNames = []string{"login", "overview", "monitor", "run", "checkpoints", "vault", "alerts", "audit", "error"}

type pages struct{ byName map[string]*template.Template }

func parsePages() (*pages, error) {
	p := &pages{byName: map[string]*template.Template{}}
	for _, n := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+n+".html")
		if err != nil {
			return nil, fmt.Errorf("parsing page %s: %w", n, err)
		}
		p.byName[n] = t
	}
	return p, nil
}

var funcs = template.FuncMap{
	"outcome":      outcomeClass,
	"outcomeLabel": outcomeLabel,
	"ts":           fmtTimestamp,
	"time":         fmtTime,
	"dur":          fmtProtoDuration,
	"duration":     fmtDuration,
	"unix":         func(t time.Time) int64 { return t.Unix() },
	"pct":          func(r float64) string { return fmt.Sprintf("%.3f%%", r*100) },
	"kind": func(k pb.CheckpointKind) string {
		return strings.ToLower(strings.TrimPrefix(k.String(), "CHECKPOINT_KIND_"))
	},
	"itemType": func(t pb.VaultItemType) string {
		return t.Word()
	},
	"enum": enumName,
	"join": strings.Join,
	"add1": func(i int32) int32 { return i + 1 },
}

// page is what layout.html gets: the frame (navigation, session) and the page's own data.
type page struct {
	Title, Nav string
	Admin      bool
	CSRF       string
	HasAlerts  bool
	Live       bool
	Body       any
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// render writes a page; it renders into a buffer first so a template error never sends half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, ss *session, p page) {
	if ss != nil {
		p.Admin, p.CSRF = ss.who.Scope == ScopeAdmin, ss.csrf
	}
	p.HasAlerts = c.o.Alerts != nil
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err := c.pages.byName[name].Execute(buf, p); err != nil {
		c.o.Logger.Error("rendering a console page", "page", name, "err", err)
		http.Error(w, "the page could not be rendered; the controller's log says why", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	writeMaybeGzip(w, r, status, buf.Bytes())
}

// fail shows an error page in the user's terms.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, ss *session, status int, msg string) {
	c.render(w, r, status, "error", ss, page{Title: http.StatusText(status), Body: msg})
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request, ss *session) {
	c.fail(w, r, ss, http.StatusNotFound, "There is no page at this address.")
}

func staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		files.ServeHTTP(w, r)
	})
}

func outcomeClass(o pb.Outcome) string {
	switch o {
	case pb.Outcome_OUTCOME_PASSED:
		return "s-ok"
	case pb.Outcome_OUTCOME_FAILED:
		return "s-fail"
	case pb.Outcome_OUTCOME_ERROR:
		return "s-err"
	}
	return "s-none"
}

func outcomeLabel(o pb.Outcome) string {
	switch o {
	case pb.Outcome_OUTCOME_PASSED:
		return "passed"
	case pb.Outcome_OUTCOME_FAILED:
		return "failed"
	case pb.Outcome_OUTCOME_ERROR:
		return "error"
	}
	return "no data"
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func fmtTimestamp(t *timestamppb.Timestamp) string {
	if t == nil {
		return "—"
	}
	return fmtTime(t.AsTime())
}

func fmtProtoDuration(d *durationpb.Duration) string {
	if d == nil {
		return "—"
	}
	return fmtDuration(d.AsDuration())
}

// enumName turns ERROR_CLASS_AGENT_LOST into "agent lost".
func enumName(v fmt.Stringer) string {
	s := v.String()
	if i := strings.Index(s, "_"); i >= 0 {
		for _, p := range []string{"ERROR_CLASS_", "ASSERT_SOURCE_", "COMPARISON_", "RUN_STATE_", "OUTCOME_"} {
			s = strings.TrimPrefix(s, p)
		}
	}
	if strings.HasSuffix(s, "UNSPECIFIED") {
		return ""
	}
	return strings.ToLower(strings.ReplaceAll(s, "_", " "))
}

// age is how long ago t was, short: "12s", "5m", "3h", "2d".
func age(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", max(int(d.Seconds()), 0))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
