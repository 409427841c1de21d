package console

import (
	"fmt"
	"time"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// phases is a run's (or a step's) time by phase. "Other" is what a step spent outside the measured
// network phases (sending the request, retries' waits, extraction and assertions).
type phases struct {
	DNS, Connect, TLS, FirstByte, Download, Wait, Other, Total time.Duration
}

// phaseNames name the phases in drawing order; their CSS classes are "ph-" + the name.
var phaseNames = []string{"dns", "connect", "tls", "firstbyte", "download", "wait", "other"}

var phaseLabels = map[string]string{"dns": "DNS", "connect": "connect", "tls": "TLS", "firstbyte": "first byte",
	"download": "download", "wait": "wait", "other": "other"}

func (p phases) list() []time.Duration {
	return []time.Duration{p.DNS, p.Connect, p.TLS, p.FirstByte, p.Download, p.Wait, p.Other}
}

func stepPhases(st *pb.StepResult) phases {
	d := st.GetDuration().AsDuration()
	t := st.GetTimings()
	if st.Method == "" && t == nil {
		return phases{Wait: d, Total: d} // a delay step
	}
	p := phases{DNS: t.GetDns().AsDuration(), Connect: t.GetConnect().AsDuration(), TLS: t.GetTls().AsDuration(),
		FirstByte: t.GetFirstByte().AsDuration(), Download: t.GetDownload().AsDuration(), Total: d}
	if measured := p.DNS + p.Connect + p.TLS + p.FirstByte + p.Download; d > measured {
		p.Other = d - measured
	}
	return p
}

func phasesOf(res *pb.RunResult) phases {
	var sum phases
	for _, st := range res.Steps {
		p := stepPhases(st)
		sum.DNS += p.DNS
		sum.Connect += p.Connect
		sum.TLS += p.TLS
		sum.FirstByte += p.FirstByte
		sum.Download += p.Download
		sum.Wait += p.Wait
		sum.Other += p.Other
		sum.Total += p.Total
	}
	if res.StartedAt != nil && res.FinishedAt != nil {
		if whole := res.FinishedAt.AsTime().Sub(res.StartedAt.AsTime()); whole > sum.Total {
			sum.Total = whole
		}
	}
	return sum
}

// bar is one rectangle of a chart, in the chart's own units.
type bar struct {
	X, Y, W, H float64
	Class      string
	Title      string
}

// durationChart stacks each recent run's phases into a column: a column per run, oldest left.
type durationChart struct {
	Width, Height float64
	Bars          []bar
	Marks         []bar // under failed runs
	Max           string
	Legend        []legendItem
}

type legendItem struct{ Class, Label string }

const chartHeight, chartColumn = 160.0, 16.0

func newDurationChart(runs []runSummary) durationChart {
	c := durationChart{Width: chartColumn * float64(max(len(runs), 20)), Height: chartHeight + 8, Legend: legend()}
	var top time.Duration
	for _, r := range runs {
		top = max(top, r.Phases.Total)
	}
	if top <= 0 {
		return c
	}
	c.Max = fmtDuration(top)
	scale := chartHeight / float64(top)
	for i, r := range runs {
		x := float64(i)*chartColumn + 2
		c.Bars = append(c.Bars, columnBars(r, x, scale)...)
		if r.Outcome != pb.Outcome_OUTCOME_PASSED {
			c.Marks = append(c.Marks, bar{X: x, Y: chartHeight + 3, W: chartColumn - 4, H: 4, Class: outcomeClass(r.Outcome), Title: r.Message})
		}
	}
	return c
}

// columnBars stacks one run's phases from the chart's floor up.
func columnBars(r runSummary, x, scale float64) []bar {
	var bars []bar
	y := chartHeight
	for j, d := range r.Phases.list() {
		h := float64(d) * scale
		if h <= 0 {
			continue
		}
		y -= h
		bars = append(bars, bar{X: x, Y: y, W: chartColumn - 4, H: h, Class: "ph-" + phaseNames[j],
			Title: fmt.Sprintf("%s at %s: %s %s", r.Checkpoint, r.Finished.UTC().Format("2006-01-02 15:04:05"), phaseLabels[phaseNames[j]], fmtDuration(d))})
	}
	return bars
}

func legend() []legendItem {
	l := make([]legendItem, len(phaseNames))
	for i, n := range phaseNames {
		l[i] = legendItem{Class: "ph-" + n, Label: phaseLabels[n]}
	}
	return l
}

// waterfallRow is one step of a run: its phases laid end to end, placed at the step's start.
type waterfallRow struct {
	Index    int32
	Name     string
	Passed   bool
	Skipped  bool
	Duration string
	Bars     []bar
}

// newWaterfall lays the steps out on one time axis of 1000 units, steps one after the other.
func newWaterfall(steps []*pb.StepResult) []waterfallRow {
	var total time.Duration
	for _, st := range steps {
		total += stepPhases(st).Total
	}
	rows := make([]waterfallRow, 0, len(steps))
	var at time.Duration
	for _, st := range steps {
		p := stepPhases(st)
		row := waterfallRow{Index: st.Index, Name: stepName(st), Passed: st.Passed, Skipped: st.Skipped, Duration: fmtDuration(p.Total)}
		if total > 0 {
			row.Bars = stepBars(p, at, total)
		}
		rows = append(rows, row)
		at += p.Total
	}
	return rows
}

// stepName is the step's name, or what it did when it has none.
func stepName(st *pb.StepResult) string {
	switch {
	case st.Name != "":
		return st.Name
	case st.Method == "":
		return "wait"
	}
	return st.Method + " request"
}

func stepBars(p phases, at, total time.Duration) []bar {
	scale := 1000 / float64(total)
	x := float64(at) * scale
	var bars []bar
	for j, d := range p.list() {
		if d <= 0 {
			continue
		}
		w := max(float64(d)*scale, 1)
		bars = append(bars, bar{X: x, Y: 2, W: w, H: 16, Class: "ph-" + phaseNames[j], Title: phaseLabels[phaseNames[j]] + " " + fmtDuration(d)})
		x += float64(d) * scale
	}
	return bars
}

// fmtDuration is a duration as people read it: 842ms, 1.24s, 10s, 3m05s, 5m, 1h.
func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", int(d.Hours()))
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d%time.Second == 0 && d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Minute:
		return fmt.Sprintf("%.2fs", d.Seconds())
	default:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
}
