package console

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lookout-synthetics/lookout/controller/internal/monitorfile"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// backendFailed shows what the admin API said, in the status a browser understands.
func (c *Console) backendFailed(w http.ResponseWriter, r *http.Request, ss *session, what string, err error) {
	st := status.Convert(err)
	code := http.StatusInternalServerError
	switch st.Code() {
	case codes.NotFound:
		code = http.StatusNotFound
	case codes.InvalidArgument, codes.FailedPrecondition:
		code = http.StatusBadRequest
	default:
		c.o.Logger.Error("console: "+what, "err", err)
	}
	c.fail(w, r, ss, code, "Could not "+what+": "+st.Message())
}

type monitorData struct {
	Monitor    *pb.Monitor
	State      string
	Cells      []checkpointCell
	Chart      durationChart
	Runs       []runSummary // newest first
	File       string
	Uptime     []UptimeFigure
	Alerts     []Alert
	CanMute    bool
	HasUptime  bool
	SourceNote string
}

type checkpointCell struct {
	Checkpoint string
	Latest     runSummary
	Has        bool
	Age        string
}

func (c *Console) monitor(w http.ResponseWriter, r *http.Request, ss *session) {
	m, err := c.o.Backend.GetMonitor(r.Context(), &pb.GetMonitorRequest{Name: r.PathValue("name")})
	if err != nil {
		c.backendFailed(w, r, ss, "read monitor "+r.PathValue("name"), err)
		return
	}
	d := monitorData{Monitor: m, CanMute: c.o.Muter != nil, HasUptime: c.o.Uptime != nil}
	c.fillLatest(r, &d)
	recent := c.o.Index.recentRuns(m.Id)
	d.Chart = newDurationChart(recent)
	slices.Reverse(recent)
	d.Runs = recent
	if f, err := monitorfile.Format(m); err == nil {
		d.File = string(f)
	}
	c.monitorSources(r, &d)
	c.render(w, r, http.StatusOK, "monitor", ss, page{Title: m.Name, Nav: "overview", Body: d})
}

// fillLatest adds the latest result at each checkpoint, and the monitor's state: alerting's, as
// on the overview.
func (c *Console) fillLatest(r *http.Request, d *monitorData) {
	cells := c.o.Index.cells(d.Monitor.Id)
	now := c.o.Now()
	failing, seen := false, false
	for _, cp := range d.Monitor.Checkpoints {
		s, ok := cells[cp]
		d.Cells = append(d.Cells, checkpointCell{Checkpoint: cp, Latest: s, Has: ok, Age: age(now, s.Finished)})
		seen = seen || ok
		failing = failing || (ok && s.Outcome != pb.Outcome_OUTCOME_PASSED)
	}
	alerting := c.alertingStates(r, []*pb.Monitor{d.Monitor}, &d.SourceNote)
	d.State = stateOf(d.Monitor, alerting, failing, seen)
}

var uptimeWindows = []time.Duration{24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour}

// monitorSources adds what optional sources know of the monitor; one that fails leaves a note.
func (c *Console) monitorSources(r *http.Request, d *monitorData) {
	var errs []string
	if c.o.Uptime != nil {
		u, err := c.o.Uptime.Uptime(r.Context(), d.Monitor.Name, uptimeWindows)
		if err != nil {
			c.o.Logger.Error("console: reading uptime", "monitor", d.Monitor.Name, "err", err)
			errs = append(errs, "uptime")
		}
		d.Uptime = u
	}
	if c.o.Alerts != nil {
		a, err := c.o.Alerts.MonitorAlerts(r.Context(), d.Monitor.Name)
		if err != nil {
			c.o.Logger.Error("console: reading alerts", "monitor", d.Monitor.Name, "err", err)
			errs = append(errs, "alerts")
		}
		d.Alerts = a
	}
	if len(errs) > 0 {
		d.SourceNote = "Could not read " + strings.Join(errs, " and ") + "; the controller's log says why."
	}
}

type runData struct {
	Run       *pb.Run
	Result    *pb.RunResult
	Waterfall []waterfallRow
	Legend    []legendItem
	Total     string
}

func (c *Console) run(w http.ResponseWriter, r *http.Request, ss *session) {
	run, err := c.o.Backend.GetRun(r.Context(), &pb.GetRunRequest{RunId: r.PathValue("id")})
	if err != nil {
		c.backendFailed(w, r, ss, "read run "+r.PathValue("id"), err)
		return
	}
	d := runData{Run: run, Result: run.Result, Legend: legend()}
	if run.Result != nil {
		d.Waterfall = newWaterfall(run.Result.Steps)
		d.Total = fmtDuration(phasesOf(run.Result).Total)
	}
	c.render(w, r, http.StatusOK, "run", ss, page{Title: "Run " + run.RunId, Nav: "overview", Body: d})
}

func (c *Console) checkpoints(w http.ResponseWriter, r *http.Request, ss *session) {
	resp, err := c.o.Backend.ListCheckpoints(r.Context(), &pb.ListCheckpointsRequest{})
	if err != nil {
		c.backendFailed(w, r, ss, "list checkpoints", err)
		return
	}
	c.render(w, r, http.StatusOK, "checkpoints", ss, page{Title: "Checkpoints", Nav: "checkpoints", Body: resp.Checkpoints})
}

// expiryWarning: certificates that expire sooner are flagged on the vault page.
const expiryWarning = 30 * 24 * time.Hour

type vaultRow struct {
	Item            *pb.VaultItem
	Expired, Expiry bool
	Left            string
}

func (c *Console) vault(w http.ResponseWriter, r *http.Request, ss *session) {
	resp, err := c.o.Backend.ListVaultItems(r.Context(), &pb.ListVaultItemsRequest{})
	if err != nil {
		c.backendFailed(w, r, ss, "list vault items", err)
		return
	}
	now := c.o.Now()
	rows := make([]vaultRow, 0, len(resp.Items))
	for _, it := range resp.Items {
		row := vaultRow{Item: it}
		if na := it.GetCertificate().GetNotAfter(); na != nil {
			left := na.AsTime().Sub(now)
			row.Expired, row.Expiry, row.Left = left <= 0, left > 0 && left < expiryWarning, age(now.Add(left), now)
		}
		rows = append(rows, row)
	}
	c.render(w, r, http.StatusOK, "vault", ss, page{Title: "Vault", Nav: "vault", Body: rows})
}

func (c *Console) alerts(w http.ResponseWriter, r *http.Request, ss *session) {
	if c.o.Alerts == nil {
		c.fail(w, r, ss, http.StatusNotFound, "Alerting is not enabled on this controller.")
		return
	}
	alerts, err := c.o.Alerts.OpenAlerts(r.Context())
	if err != nil {
		c.backendFailed(w, r, ss, "read alerts", err)
		return
	}
	c.render(w, r, http.StatusOK, "alerts", ss, page{Title: "Alerts", Nav: "alerts", Body: alerts})
}

func (c *Console) audit(w http.ResponseWriter, r *http.Request, ss *session) {
	resp, err := c.o.Backend.ListAuditEntries(r.Context(), &pb.ListAuditEntriesRequest{Limit: 500})
	if err != nil {
		c.backendFailed(w, r, ss, "read the audit log", err)
		return
	}
	slices.Reverse(resp.Entries) // newest first
	c.render(w, r, http.StatusOK, "audit", ss, page{Title: "Audit log", Nav: "audit", Body: resp})
}
