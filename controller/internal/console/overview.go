package console

import (
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
	m.gen, m.ms, m.cps = gen, ms, cps
	return ms, cps, nil
}

// overviewData is the overview page: a row per monitor, a column per checkpoint, a page of rows
// at a time; the counts are over every monitor.
type overviewData struct {
	Checkpoints, Columns     []string
	Rows                     []overviewRow
	Total, OK, Failing, No   int
	State, Checkpoint, Query string // the filters in force
	States                   []string
	Matched, First, Last     int
	Prev, Next               string // links to the neighbouring pages; empty at the ends
	OpenAlerts               []Alert
	AlertsErr                string
}

// overviewRow: ID names the row for live updates.
type overviewRow struct {
	ID, Name string
	State    string // ok, failing, nodata, paused
	Cells    []overviewCell
}

// overviewCell: RunID is empty without a result, and Class "na" when the monitor does not run
// from that checkpoint.
type overviewCell struct {
	Class, RunID, Age string
	At                int64
}

// overviewPage is how many monitors one page of the overview shows.
const overviewPage = 200

var overviewStates = []string{"", "ok", "failing", "nodata", "paused"}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, ss *session) {
	ms, cps, err := c.monitors.get()
	if err != nil {
		c.o.Logger.Error("console: listing monitors", "err", err)
		c.fail(w, r, ss, http.StatusInternalServerError, "Monitors could not be read; the controller's log says why.")
		return
	}
	d := overviewData{State: r.FormValue("state"), Checkpoint: r.FormValue("checkpoint"), Query: r.FormValue("q"), States: overviewStates, Checkpoints: cps, Columns: cps}
	if d.Checkpoint != "" {
		d.Columns = []string{d.Checkpoint}
	}
	pageNo, _ := strconv.Atoi(r.FormValue("page"))
	pageNo = max(pageNo, 1)
	now := c.o.Now()
	// The index's lock is also taken on the path that stores results: hold it a chunk at a time.
	for chunk := range slices.Chunk(ms, 500) {
		c.o.Index.read(func(latest cellReader) { d.fill(chunk, latest, pageNo, now) })
	}
	d.paginate(pageNo)
	c.openAlerts(r, &d)
	c.render(w, r, http.StatusOK, "overview", ss, page{Title: "Overview", Nav: "overview", Live: true, Body: d})
}

// fill counts every monitor by state and keeps the rows of page pageNo that pass the filters.
func (d *overviewData) fill(ms []*pb.Monitor, latest cellReader, pageNo int, now time.Time) {
	for _, m := range ms {
		state := monitorState(m, d.Columns, latest)
		d.count(state)
		if (d.State != "" && d.State != state) || !strings.Contains(m.Name, d.Query) {
			continue
		}
		if d.Matched++; d.Matched > (pageNo-1)*overviewPage && len(d.Rows) < overviewPage {
			d.Rows = append(d.Rows, overviewRowOf(m, state, d.Columns, latest, now))
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
	switch state {
	case "ok":
		d.OK++
	case "failing":
		d.Failing++
	case "nodata":
		d.No++
	}
}

// monitorState is a monitor's state on the overview, from the latest result at each of cols.
func monitorState(m *pb.Monitor, cols []string, latest cellReader) string {
	if m.Paused {
		return "paused"
	}
	seen := false
	for _, cp := range cols {
		if s, ok := latest(m.Id, cp); ok {
			if s.Outcome != pb.Outcome_OUTCOME_PASSED {
				return "failing"
			}
			seen = true
		}
	}
	if !seen {
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
