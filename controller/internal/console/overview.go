package console

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// monitorCache keeps the sorted monitor list until the store says monitors changed; then it also
// drops deleted monitors from the index.
type monitorCache struct {
	src   Monitors
	index *Index
	mu    sync.Mutex
	gen   uint64
	ms    []*pb.Monitor
	byID  map[string]*pb.Monitor
	cps   []string // every checkpoint some monitor runs from, sorted
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
	seen, ids := map[string]bool{}, make(map[string]bool, len(ms))
	for _, mo := range ms {
		ids[mo.Id] = true
		for _, cp := range mo.Checkpoints {
			seen[cp] = true
		}
	}
	m.index.retain(ids)
	cps := make([]string, 0, len(seen))
	for cp := range seen {
		cps = append(cps, cp)
	}
	slices.Sort(cps)
	byID := make(map[string]*pb.Monitor, len(ms))
	for _, mo := range ms {
		byID[mo.Id] = mo
	}
	m.gen, m.ms, m.byID, m.cps = gen, ms, byID, cps
	return ms, cps, nil
}

// byMonitorID is the monitor with that id; nil when there is none (deleted since).
func (m *monitorCache) byMonitorID(id string) (*pb.Monitor, error) {
	if _, _, err := m.get(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.byID[id], nil
}

// overviewData is the overview page: a row per monitor, a column per checkpoint, a page of rows
// at a time; the counts are over every monitor.
type overviewData struct {
	Checkpoints, Columns     []string
	Rows                     []overviewRow
	Total                    int
	Counts                   []stateCount // per state, in the order of States
	State, Checkpoint, Query string       // the filters in force
	States                   []string
	Matched, First, Last     int
	Prev, Next               string // links to the neighbouring pages; empty at the ends
	OpenAlerts               []Alert
	AlertsErr                string
}

// overviewRow: ID names the row for live updates. Alerting says State is alerting's, which a
// live result does not change; else the page works it out again from the cells.
type overviewRow struct {
	ID, Name string
	State    string // one of resultStates or alertingStates
	Alerting bool
	Cells    []overviewCell
}

// stateCount is how many monitors are in a state, for the summary.
type stateCount struct {
	State, Label string
	N            int
}

// overviewCell: RunID is empty without a result, and Class "na" when the monitor does not run
// from that checkpoint.
type overviewCell struct {
	Class, RunID, Age string
	At                int64
}

// overviewPage is how many monitors one page of the overview shows.
const overviewPage = 200

// The states a monitor can be in on the overview: alerting's (as the CLI's monitor list shows
// them), plus "nodata" for an ok monitor without a result yet; without alerting, the latest
// results'.
var (
	alertingStates = []string{"ok", "unconfirmed", "down", "muted", "paused", "nodata"}
	resultStates   = []string{"ok", "failing", "nodata", "paused"}
	stateLabels    = map[string]string{"ok": "passing", "nodata": "no data"}
)

func (c *Console) overview(w http.ResponseWriter, r *http.Request, ss *session) {
	ms, cps, err := c.monitors.get()
	if err != nil {
		c.o.Logger.Error("console: listing monitors", "err", err)
		c.fail(w, r, ss, http.StatusInternalServerError, "Monitors could not be read; the controller's log says why.")
		return
	}
	d := overviewData{State: r.FormValue("state"), Checkpoint: r.FormValue("checkpoint"), Query: r.FormValue("q"), Checkpoints: cps, Columns: cps}
	alerting := c.alertingStates(r, ms, &d.AlertsErr)
	d.countStates(alerting != nil)
	if d.Checkpoint != "" {
		d.Columns = []string{d.Checkpoint}
	}
	pageNo, _ := strconv.Atoi(r.FormValue("page"))
	pageNo = max(pageNo, 1)
	now := c.o.Now()
	// The index's lock is also taken on the path that stores results: hold it a chunk at a time.
	for chunk := range slices.Chunk(ms, 500) {
		c.o.Index.read(func(latest cellReader) { d.fill(chunk, latest, alerting, pageNo, now) })
	}
	d.paginate(pageNo)
	c.openAlerts(r, &d)
	c.render(w, r, http.StatusOK, "overview", ss, page{Title: "Overview", Nav: "overview", Live: true, Body: d})
}

// alertingStates reads the monitors' alerting states; nil without alerting, or when they could not
// be read (note then says so, and the states come from the latest results).
func (c *Console) alertingStates(r *http.Request, ms []*pb.Monitor, note *string) map[string]string {
	if c.o.Alerts == nil {
		return nil
	}
	states, err := c.o.Alerts.States(r.Context(), ms)
	if err != nil {
		c.o.Logger.Error("console: reading alerting states", "err", err)
		*note = "Alerting states could not be read (states shown are from the latest results); the controller's log says why."
		return nil
	}
	return states
}

// countStates lists the states of the filter and the summary.
func (d *overviewData) countStates(alerting bool) {
	states := resultStates
	if alerting {
		states = alertingStates
	}
	d.States = append([]string{""}, states...)
	for _, s := range states {
		d.Counts = append(d.Counts, stateCount{State: s, Label: cmp.Or(stateLabels[s], s)})
	}
}

// fill counts every monitor by state and keeps the rows of page pageNo that pass the filters.
func (d *overviewData) fill(ms []*pb.Monitor, latest cellReader, alerting map[string]string, pageNo int, now time.Time) {
	for _, m := range ms {
		state := monitorState(m, d.Columns, latest, alerting)
		d.count(state)
		if (d.State != "" && d.State != state) || !strings.Contains(m.Name, d.Query) {
			continue
		}
		if d.Matched++; d.Matched > (pageNo-1)*overviewPage && len(d.Rows) < overviewPage {
			row := overviewRowOf(m, state, d.Columns, latest, now)
			row.Alerting = alerting != nil
			d.Rows = append(d.Rows, row)
		}
	}
}

// paginate fills the "showing a–b of n" figures and the links to the neighbouring pages.
func (d *overviewData) paginate(page int) {
	d.First, d.Last = (page-1)*overviewPage+1, (page-1)*overviewPage+len(d.Rows)
	link := func(p int) string {
		q := url.Values{"page": {strconv.Itoa(p)}}
		for k, v := range map[string]string{"state": d.State, "checkpoint": d.Checkpoint, "q": d.Query} {
			if v != "" {
				q.Set(k, v)
			}
		}
		return "/?" + q.Encode()
	}
	if page > 1 {
		d.Prev = link(page - 1)
	}
	if d.Last < d.Matched {
		d.Next = link(page + 1)
	}
}

func (d *overviewData) count(state string) {
	d.Total++
	for i := range d.Counts {
		if d.Counts[i].State == state {
			d.Counts[i].N++
		}
	}
}

// monitorState is a monitor's state on the overview: its alerting state when alerting is wired
// ("nodata" while ok without a result at any of cols), else worked out from those results.
func monitorState(m *pb.Monitor, cols []string, latest cellReader, alerting map[string]string) string {
	failing, seen := false, false
	for _, cp := range cols {
		if s, ok := latest(m.Id, cp); ok {
			failing, seen = failing || s.Outcome != pb.Outcome_OUTCOME_PASSED, true
		}
	}
	return stateOf(m, alerting, failing, seen)
}

// stateOf decides a monitor's state from its alerting state (nil: alerting is not wired) and
// what its latest results say.
func stateOf(m *pb.Monitor, alerting map[string]string, failing, seen bool) string {
	if alerting != nil {
		st := cmp.Or(alerting[m.Id], "ok")
		if st == "ok" && !seen {
			return "nodata"
		}
		return st
	}
	switch {
	case m.Paused:
		return "paused"
	case failing:
		return "failing"
	case !seen:
		return "nodata"
	}
	return "ok"
}

func overviewRowOf(m *pb.Monitor, state string, cols []string, latest cellReader, now time.Time) overviewRow {
	row := overviewRow{ID: m.Id, Name: m.Name, State: state, Cells: make([]overviewCell, len(cols))}
	for i, cp := range cols {
		cell := overviewCell{Class: "na"}
		if slices.Contains(m.Checkpoints, cp) {
			cell.Class = "s-none"
			if s, ok := latest(m.Id, cp); ok {
				cell.Class, cell.RunID, cell.At, cell.Age = outcomeClass(s.Outcome), s.RunID, s.Finished.Unix(), age(now, s.Finished)
			}
		}
		row.Cells[i] = cell
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
