package reports

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// chartData is what templates/charts.js draws, written into the page as
// JSON. Every list is present (never null) so the script needs no checks.
type chartData struct {
	Phases   chartPhases   `json:"phases"`
	Setup    chartSeries   `json:"setup"`
	MOS      chartSeries   `json:"mos"`
	Loss     chartSeries   `json:"loss"`
	Jitter   chartSeries   `json:"jitter"`
	Timeline chartTimeline `json:"timeline"`
	ICE      chartSeries   `json:"ice"`
	Failures chartSeries   `json:"failures"`
}

type chartPhases struct {
	Labels []string   `json:"labels"`
	P50    []*float64 `json:"p50"`
	P95    []*float64 `json:"p95"`
}

// chartSeries is one labelled series of counts; Tones names the CSS colour
// of each slice (doughnuts only).
type chartSeries struct {
	Labels []string `json:"labels"`
	Counts []int    `json:"counts"`
	Tones  []string `json:"tones,omitempty"`
}

type chartTimeline struct {
	Labels  []string   `json:"labels"` // m:ss from the timeline's start
	XTitle  string     `json:"x_title"`
	Active  []float64  `json:"active"`
	Started []int      `json:"started"`
	Failed  []int      `json:"failed"`
	MOS     []*float64 `json:"mos"`
	Loss    []*float64 `json:"loss"`
}

func newChartData(s *Summary) chartData {
	p := s.SetupPhases
	d := chartData{
		Phases: chartPhases{
			Labels: []string{"Signaling", "ICE", "DTLS", "First media", "Total"},
			P50:    []*float64{p.SignalingMS.P50, p.ICEMS.P50, p.DTLSMS.P50, p.FirstMediaMS.P50, s.SetupMS.P50},
			P95:    []*float64{p.SignalingMS.P95, p.ICEMS.P95, p.DTLSMS.P95, p.FirstMediaMS.P95, s.SetupMS.P95},
		},
		Setup:    histSeries(s.Histograms.SetupMS),
		MOS:      histSeries(s.Histograms.MOS),
		Loss:     histSeries(s.Histograms.LossPct),
		Jitter:   histSeries(s.Histograms.JitterMS),
		Timeline: timelineSeries(s.Timeline),
		ICE:      iceSeries(s),
		Failures: chartSeries{Labels: []string{}, Counts: []int{}},
	}
	for _, f := range s.Failures {
		d.Failures.Labels = append(d.Failures.Labels, f.Cause)
		d.Failures.Counts = append(d.Failures.Counts, f.Count)
	}
	return d
}

func histSeries(h Histogram) chartSeries {
	labels := h.Labels()
	if labels == nil {
		return chartSeries{Labels: []string{}, Counts: []int{}}
	}
	return chartSeries{Labels: labels, Counts: slices.Clone(h.Counts)}
}

func timelineSeries(tl Timeline) chartTimeline {
	c := chartTimeline{
		Labels: []string{}, Active: []float64{}, Started: []int{}, Failed: []int{}, MOS: []*float64{}, Loss: []*float64{},
		XTitle: "time from start (m:ss), per second",
	}
	if tl.StepS > 1 {
		c.XTitle = fmt.Sprintf("time from start (m:ss), per %d s", tl.StepS)
	}
	for _, p := range tl.Points {
		c.Labels = append(c.Labels, clock(p.T))
		c.Active = append(c.Active, p.Active)
		c.Started = append(c.Started, p.Started)
		c.Failed = append(c.Failed, p.Failed)
		c.MOS = append(c.MOS, p.MOS)
		c.Loss = append(c.Loss, p.LossPct)
	}
	return c
}

// clock prints seconds as m:ss, or h:mm:ss from an hour on.
func clock(sec int) string {
	if sec >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", sec/3600, sec/60%60, sec%60)
	}
	return fmt.Sprintf("%d:%02d", sec/60, sec%60)
}

// iceSeries splits the attempted calls by how far ICE got.
func iceSeries(s *Summary) chartSeries {
	i := s.ICE
	c := chartSeries{
		Labels: []string{"connected direct", "connected via relay", "ICE failed", "no SDP exchanged"},
		Counts: []int{i.Connected - i.Relay, i.Relay, i.SDPExchanged - i.Connected, max(0, s.Calls.Attempted-i.SDPExchanged)},
		Tones:  []string{"c1", "c4", "bad-strong", "c5"},
	}
	for k, n := range c.Counts {
		c.Labels[k] += fmt.Sprintf(" · %d", n)
	}
	return c
}

// htmlChart is one chart panel. Empty, when set, replaces the canvas with a
// sentence saying why there is nothing to draw.
type htmlChart struct {
	ID, Title, Sub, Size, Empty string
}

type htmlCharts struct {
	Load, Quality, Phases, Setup, MOS, Loss, Jitter, ICE, Failures htmlChart
}

func newHTMLCharts(s *Summary) htmlCharts {
	tl := s.Timeline
	hasQuality := slices.ContainsFunc(tl.Points, func(p TimePoint) bool { return p.MOS != nil || p.LossPct != nil })
	per := "second"
	if tl.StepS > 1 {
		per = fmt.Sprintf("%d seconds", tl.StepS)
	}
	qualitySub := "Mean MOS and loss of the calls ending in each " + per + "."
	if tl.QualitySource == QualitySamples {
		qualitySub = "Mean MOS and loss of the readings taken in each " + per + "."
	}
	load := htmlChart{ID: "load", Title: "Calls over time", Size: "tall",
		Sub: "Calls in progress (mean over each " + per + "), and calls started and failed in it."}
	if s.Rooms != nil {
		load.Title = "Load over time"
		load.Sub = "Calls and room participants in progress (mean over each " + per + "), and those started and failed in it."
	}
	c := htmlCharts{
		Load:    load,
		Quality: htmlChart{ID: "quality", Title: "Quality over time", Sub: qualitySub},
		Phases: htmlChart{ID: "phases", Title: "Setup time by phase",
			Sub: "Median and 95th percentile of each phase, over connected calls."},
		Setup: htmlChart{ID: "setup", Title: "Setup time distribution",
			Sub: fmt.Sprintf("Dial to first audio, %d connected calls.", s.Histograms.SetupMS.N())},
		MOS: htmlChart{ID: "mos", Title: "MOS distribution", Size: "short",
			Sub: fmt.Sprintf("%d connected calls.", s.Histograms.MOS.N())},
		Loss: htmlChart{ID: "loss", Title: "Packet loss distribution", Size: "short",
			Sub: fmt.Sprintf("%d media directions.", s.Histograms.LossPct.N())},
		Jitter: htmlChart{ID: "jitter", Title: "Jitter distribution", Size: "short",
			Sub: fmt.Sprintf("%d media directions that received audio.", s.Histograms.JitterMS.N())},
		ICE: htmlChart{ID: "ice", Title: "ICE outcomes",
			Sub: fmt.Sprintf("%d attempted calls by how far ICE got.", s.Calls.Attempted)},
		Failures: htmlChart{ID: "failures", Title: "By cause", Size: "short",
			Sub: "Failed call and REGISTER records."},
	}
	emptyIf := func(ch *htmlChart, empty bool, why string) {
		if empty {
			ch.Empty = why
		}
	}
	emptyIf(&c.Load, len(tl.Points) == 0, "No call records with times.")
	emptyIf(&c.Quality, !hasQuality, "No media figures over time.")
	emptyIf(&c.Phases, s.SetupMS.N == 0, "No call connected.")
	emptyIf(&c.Setup, s.Histograms.SetupMS.N() == 0, "No call connected.")
	emptyIf(&c.MOS, s.Histograms.MOS.N() == 0, "No connected call carried a MOS.")
	emptyIf(&c.Loss, s.Histograms.LossPct.N() == 0, "No media was sent.")
	emptyIf(&c.Jitter, s.Histograms.JitterMS.N() == 0, "No media was received.")
	emptyIf(&c.ICE, s.Calls.Attempted == 0, "No call was attempted.")
	emptyIf(&c.Failures, len(s.Failures) == 0, "Nothing failed.")
	return c
}

// drawn lists the IDs of the charts the page draws (those with data).
func (c htmlCharts) drawn() []string {
	var ids []string
	for _, ch := range []htmlChart{c.Load, c.Quality, c.Phases, c.Setup, c.MOS, c.Loss, c.Jitter, c.ICE, c.Failures} {
		if ch.Empty == "" {
			ids = append(ids, ch.ID)
		}
	}
	return ids
}

// htmlMatrix is the candidate-type matrix: connected calls by the type of
// their selected pair's local (rows) and remote (columns) candidate.
type htmlMatrix struct {
	Cols  []string
	Rows  []htmlMatrixRow
	Total int
}

type htmlMatrixRow struct {
	Local string
	Cells []htmlMatrixCell
}

type htmlMatrixCell struct {
	Count int
	Share string
	Heat  int // 0 (none) to 4 (the most common pair's share band)
}

var candidateTypes = []string{"host", "srflx", "prflx", "relay"}

// newHTMLMatrix lays pairs ("local/remote" keys) out with the four ICE
// candidate types always shown, and any other type seen after them.
func newHTMLMatrix(pairs map[string]int) htmlMatrix {
	m := htmlMatrix{Cols: slices.Clone(candidateTypes)}
	locals := slices.Clone(candidateTypes)
	for _, k := range slices.Sorted(maps.Keys(pairs)) {
		l, r, _ := strings.Cut(k, "/")
		if !slices.Contains(locals, l) {
			locals = append(locals, l)
		}
		if !slices.Contains(m.Cols, r) {
			m.Cols = append(m.Cols, r)
		}
		m.Total += pairs[k]
	}
	for _, l := range locals {
		row := htmlMatrixRow{Local: l}
		for _, r := range m.Cols {
			n := pairs[l+"/"+r]
			cell := htmlMatrixCell{Count: n}
			if n > 0 {
				share := float64(n) / float64(m.Total)
				cell.Share = percent(&share)
				cell.Heat = min(4, 1+int(share*4))
			}
			row.Cells = append(row.Cells, cell)
		}
		m.Rows = append(m.Rows, row)
	}
	return m
}
