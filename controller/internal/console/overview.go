package console

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// monitorCache keeps the sorted monitor list until the store says monitors changed.
type monitorCache struct {
	src Monitors
	mu  sync.Mutex
	gen uint64
	ms  []*pb.Monitor
	cps []string // every checkpoint some monitor runs from, sorted
}

func (m *monitorCache) get() ([]*pb.Monitor, []string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	gen := m.src.MonitorsGeneration()
	if m.ms != nil && gen == m.gen {
		return m.ms, m.cps, nil
	}
	ms, err := m.src.Monitors()
	if err != nil {
		return nil, nil, err
	}
	slices.SortFunc(ms, func(a, b *pb.Monitor) int { return strings.Compare(a.Name, b.Name) })
	seen := map[string]bool{}
	for _, mo := range ms {
		for _, cp := range mo.Checkpoints {
			seen[cp] = true
		}
	}
	cps := make([]string, 0, len(seen))
	for cp := range seen {
		cps = append(cps, cp)
	}
	slices.Sort(cps)
	m.gen, m.ms, m.cps = gen, ms, cps
	return ms, cps, nil
}

// overviewData is the overview page: a row per monitor, a column per checkpoint.
type overviewData struct {
	Checkpoints            []string
	Rows                   []overviewRow
	Total, OK, Failing, No int
	State, Checkpoint      string // the filters in force
	States                 []string
	OpenAlerts             []Alert
	AlertsErr              string
}

type overviewRow struct {
	Name  string
	State string // ok, failing, nodata, paused
	Cells []overviewCell
}

// overviewCell: Key names it for live updates; RunID is empty without a result, and Class "na"
// when the monitor does not run from that checkpoint.
type overviewCell struct {
	Key, Class, RunID, Age string
	At                     int64
}

var overviewStates = []string{"", "ok", "failing", "nodata", "paused"}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, ss *session) {
	ms, cps, err := c.monitors.get()
	if err != nil {
		c.o.Logger.Error("console: listing monitors", "err", err)
		c.fail(w, r, ss, http.StatusInternalServerError, "Monitors could not be read; the controller's log says why.")
		return
	}
	d := overviewData{State: r.FormValue("state"), Checkpoint: r.FormValue("checkpoint"), States: overviewStates}
	cols := cps
	if d.Checkpoint != "" {
		cols = []string{d.Checkpoint}
	}
	d.Checkpoints = cps
	now := c.o.Now()
	d.Rows = make([]overviewRow, 0, len(ms))
	for _, m := range ms {
		row := c.overviewRow(m, cols, now)
		d.count(row.State)
		if d.State == "" || d.State == row.State {
			d.Rows = append(d.Rows, row)
		}
	}
	if d.Checkpoint != "" {
		d.Checkpoints = cols
	}
	c.openAlerts(r, &d)
	c.render(w, r, http.StatusOK, "overview", ss, page{Title: "Overview", Nav: "overview", Live: true, Body: d})
}

func (d *overviewData) count(state string) {
	d.Total++
	switch state {
	case "ok":
		d.OK++
	case "failing":
		d.Failing++
	case "nodata":
		d.No++
	}
}

func (c *Console) overviewRow(m *pb.Monitor, cols []string, now time.Time) overviewRow {
	row := overviewRow{Name: m.Name, Cells: make([]overviewCell, len(cols))}
	seen, failing := 0, false
	for i, cp := range cols {
		cell := overviewCell{Key: m.Id + "/" + cp, Class: "na"}
		if slices.Contains(m.Checkpoints, cp) {
			cell.Class = "s-none"
			if s, ok := c.o.Index.cell(m.Id, cp); ok {
				cell.Class, cell.RunID, cell.At, cell.Age = outcomeClass(s.Outcome), s.RunID, s.Finished.Unix(), age(now, s.Finished)
				seen++
				failing = failing || s.Outcome != pb.Outcome_OUTCOME_PASSED
			}
		}
		row.Cells[i] = cell
	}
	switch {
	case m.Paused:
		row.State = "paused"
	case failing:
		row.State = "failing"
	case seen == 0:
		row.State = "nodata"
	default:
		row.State = "ok"
	}
	return row
}

func (c *Console) openAlerts(r *http.Request, d *overviewData) {
	if c.o.Alerts == nil {
		return
	}
	alerts, err := c.o.Alerts.OpenAlerts(r.Context())
	if err != nil {
		c.o.Logger.Error("console: reading open alerts", "err", err)
		d.AlertsErr = "Open alerts could not be read; the controller's log says why."
	}
	d.OpenAlerts = alerts
}
