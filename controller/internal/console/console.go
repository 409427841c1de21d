package console

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Backend is the part of the admin API the console reads and acts through, called in process so
// that every action is validated, scheduled and audited exactly as from the CLI.
type Backend interface {
	GetMonitor(context.Context, *pb.GetMonitorRequest) (*pb.Monitor, error)
	SetMonitorPaused(context.Context, *pb.SetMonitorPausedRequest) (*pb.Monitor, error)
	TriggerRun(context.Context, *pb.TriggerRunRequest) (*pb.TriggerRunResponse, error)
	GetRun(context.Context, *pb.GetRunRequest) (*pb.Run, error)
	ListCheckpoints(context.Context, *pb.ListCheckpointsRequest) (*pb.ListCheckpointsResponse, error)
	ListVaultItems(context.Context, *pb.ListVaultItemsRequest) (*pb.ListVaultItemsResponse, error)
	ListAuditEntries(context.Context, *pb.ListAuditEntriesRequest) (*pb.ListAuditEntriesResponse, error)
}

// Monitors lists the monitors; the generation changes whenever one does, so the console reuses
// its sorted copy between changes.
type Monitors interface {
	Monitors() ([]*pb.Monitor, error)
	MonitorsGeneration() uint64
}

// Alerts is what alerting provides: open alerts, a monitor's alerts, and monitors' alerting
// states. Optional: without it a monitor's state is worked out from its latest results.
type Alerts interface {
	OpenAlerts(ctx context.Context) ([]Alert, error)
	MonitorAlerts(ctx context.Context, monitor string) ([]Alert, error)
	// States maps each monitor's id to its alerting state in the words of the CLI's monitor
	// list ALERTING column: ok, unconfirmed, down, muted or paused.
	States(ctx context.Context, ms []*pb.Monitor) (map[string]string, error)
}

// Alert is one alert as the console shows it.
type Alert struct {
	ID, Monitor, State string // State: "down", "unconfirmed", "ok"
	Level              int
	Checkpoints        []string // failing ones
	StartedAt          time.Time
	ResolvedAt         time.Time // zero while open
	Message            string    // redacted, as in notifications
}

// Uptime is what collectors provide: the share of passed runs of a monitor over windows. Optional.
type Uptime interface {
	Uptime(ctx context.Context, monitor string, windows []time.Duration) ([]UptimeFigure, error)
}

// UptimeFigure is a monitor's uptime over one window.
type UptimeFigure struct {
	Window   time.Duration
	Ratio    float64 // 0..1
	Runs     int
	P50, P95 time.Duration
}

// Muter mutes and unmutes a monitor's notifications (alerting). Optional: without it the console
// shows no mute button.
type Muter interface {
	Mute(ctx context.Context, monitor string, d time.Duration, reason string) error
	Unmute(ctx context.Context, monitor string) error
}

// Audit lets the audit log name the people who use the console as it names the API's callers.
// Optional: without it backend calls carry the request's context as it is, and refused sign-ins
// are only logged.
type Audit interface {
	// AsCaller returns ctx carrying who signed in; every backend call of their session gets it.
	AsCaller(ctx context.Context, who Identity) context.Context
	// SignInRefused records a sign-in refused with err (an empty, unknown or revoked token) from
	// remoteAddr. It gets the token only to name a revoked one by its name: never to record it.
	SignInRefused(ctx context.Context, remoteAddr, token string, err error)
}

// Options configure a console.
type Options struct {
	Backend  Backend
	Monitors Monitors
	Index    *Index
	Tokens   TokenChecker
	Alerts   Alerts // optional
	Uptime   Uptime // optional
	Muter    Muter  // optional
	Audit    Audit  // optional
	// Secure marks the session cookie Secure (the console is served over TLS).
	Secure     bool
	SessionTTL time.Duration // default 12h
	Logger     *slog.Logger
	Now        func() time.Time
}

// Console is the web console's HTTP handler.
type Console struct {
	o        Options
	sessions *sessions
	pages    *pages
	mux      *http.ServeMux
	monitors monitorCache
	logins   *loginLimiter
	stop     chan struct{}
	stopOnce sync.Once
	streams  sync.WaitGroup
}

// New makes a console. Call Close before shutting its HTTP server down, so that open event
// streams end.
func New(o Options) (*Console, error) {
	if o.Backend == nil || o.Monitors == nil || o.Index == nil || o.Tokens == nil {
		return nil, errors.New("console: Backend, Monitors, Index and Tokens are required")
	}
	if o.SessionTTL == 0 {
		o.SessionTTL = 12 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	c := &Console{o: o, sessions: newSessions(o.SessionTTL, o.Now), pages: p, logins: newLoginLimiter(o.Now), stop: make(chan struct{})}
	c.monitors.src, c.monitors.index = o.Monitors, o.Index
	c.routes()
	return c, nil
}

// ServeHTTP serves the console with its security headers.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	if c.o.Secure {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	if r.Method == http.MethodPost && !sameOrigin(r) {
		http.Error(w, "this form was sent from another site; open the console and use its own forms", http.StatusForbidden)
		return
	}
	c.mux.ServeHTTP(w, r)
}

// sameOrigin is false for a request a browser says came from another origin.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" || o == "null" && r.Header.Get("Sec-Fetch-Site") == "same-origin" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// Close ends the open event streams and waits for them.
func (c *Console) Close() {
	c.stopOnce.Do(func() { close(c.stop) })
	c.streams.Wait()
}

func (c *Console) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	m.Handle("GET /static/", staticHandler())
	m.HandleFunc("GET /login", c.loginPage)
	m.HandleFunc("POST /login", c.login)
	m.HandleFunc("POST /logout", c.withSession(ScopeRead, true, c.logout))
	m.HandleFunc("GET /{$}", c.withSession(ScopeRead, false, c.overview))
	m.HandleFunc("GET /monitors/{name}", c.withSession(ScopeRead, false, c.monitor))
	m.HandleFunc("POST /monitors/{name}/run", c.withSession(ScopeAdmin, true, c.runNow))
	m.HandleFunc("POST /monitors/{name}/pause", c.withSession(ScopeAdmin, true, c.pause(true)))
	m.HandleFunc("POST /monitors/{name}/resume", c.withSession(ScopeAdmin, true, c.pause(false)))
	m.HandleFunc("POST /monitors/{name}/mute", c.withSession(ScopeAdmin, true, c.mute))
	m.HandleFunc("POST /monitors/{name}/unmute", c.withSession(ScopeAdmin, true, c.unmute))
	m.HandleFunc("GET /runs/{id}", c.withSession(ScopeRead, false, c.run))
	m.HandleFunc("GET /checkpoints", c.withSession(ScopeRead, false, c.checkpoints))
	m.HandleFunc("GET /vault", c.withSession(ScopeAdmin, false, c.vault)) // admin, as ListVaultItems is over gRPC
	m.HandleFunc("GET /alerts", c.withSession(ScopeRead, false, c.alerts))
	m.HandleFunc("GET /audit", c.withSession(ScopeAdmin, false, c.audit))
	m.HandleFunc("GET /events", c.withSession(ScopeRead, false, c.events))
	m.HandleFunc("/", c.withSession(ScopeRead, false, c.notFound))
	c.mux = m
}
