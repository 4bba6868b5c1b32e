package reports

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// reportTemplate is the page; assets.go holds what it inlines.
var (
	//go:embed templates/report.html.tmpl
	reportHTML string

	reportTemplate = template.Must(template.New("report").Parse(reportHTML))
)

// WriteHTML writes report.html: one self-contained page that works offline
// (verdict and failed thresholds, KPI tiles, rooms when the run had any,
// charts over time, setup, media quality and ICE with its NAT pairings,
// negotiated security, failures, attacks, environment).
// Its charts are drawn in the browser by the embedded Chart.js; its tables
// carry the same figures for a reader without script. Free text is
// redacted.
func WriteHTML(w io.Writer, s *Summary) error {
	if err := reportTemplate.Execute(w, newHTMLView(s.redacted())); err != nil {
		return fmt.Errorf("write html report: %w", err)
	}
	return nil
}

type htmlView struct {
	S              *Summary
	CSP            string
	CSS            template.CSS
	ChartJS        template.JS // the vendored library, inlined as is
	ChartsJS       template.JS // our drawing code
	ChartJSVersion string
	Data           chartData // the charts' figures, as JSON in the page
	Charts         htmlCharts
	Matrix         htmlMatrix
	Byline         []string
	Status         string
	StatusClass    string
	StatusLine     string
	Failed         []htmlThreshold // failed thresholds and vulnerable attacks, for the banner
	Tiles          []htmlTile
	Thresholds     []htmlThreshold
	Phases         []htmlDist
	Media          []htmlDist
	Negotiated     []htmlCounts
	Failures       []FailureGroup
	Rooms          *htmlRooms    // nil without room records
	Pairings       []htmlPairing // the ICE section's NAT pairings, if any
	Attacks        []htmlAttack
	Meta           []htmlKV
	Warnings       []string
}

type htmlTile struct {
	Label, Value, Sub, Class string
}

type htmlThreshold struct {
	Name, Actual, Note, Class string
	OK, Default               bool
}

type htmlDist struct {
	Name, P50, P95 string
	N              int
}

type htmlCounts struct {
	Title string
	Rows  []htmlKV
}

type htmlKV struct {
	Key, Value, Share string
}

type htmlAttack struct {
	AttackSummary
	Class string
}

// The page's own style and script are our embedded files, not user input,
// so they are inlined as they are; pageCSP pins them by hash.
func newHTMLView(s *Summary) htmlView {
	v := htmlView{
		S:              s,
		CSP:            pageCSP,
		CSS:            template.CSS(reportCSS),
		ChartJS:        template.JS(chartJS),
		ChartsJS:       template.JS(chartsJS),
		ChartJSVersion: chartJSVersion,
		Data:           newChartData(s),
		Charts:         newHTMLCharts(s),
		Matrix:         newHTMLMatrix(s.Negotiated.CandidatePair),
		Byline:         byline(s.Run),
		Status:         string(s.Status),
		StatusClass:    statusClass(s.Status),
		StatusLine:     statusLine(s),
		Failures:       s.Failures,
		Pairings:       newHTMLPairings(s.ICE.ByPairing),
		Warnings:       s.Run.Warnings,
	}
	if v.Status == "" {
		v.Status = "NO VERDICT"
	}
	held := thresholdHeld(s.Thresholds)
	tile := func(label, value, sub string, metrics ...string) {
		v.Tiles = append(v.Tiles, htmlTile{Label: label, Value: value, Sub: sub, Class: tileClass(held, metrics)})
	}
	tile("Calls connected", fmt.Sprintf("%d / %d", s.Calls.Connected, s.Calls.Attempted),
		fmt.Sprintf("%d failed · %d canceled", s.Calls.Failed, s.Calls.Canceled),
		"calls.attempted", "calls.connected", "calls.failed", "calls.canceled")
	tile("ICE success", percent(s.ICE.SuccessRate),
		fmt.Sprintf("%d of %d that exchanged SDP", s.ICE.Connected, s.ICE.SDPExchanged), "ice.success_rate")
	tile("Relay ratio", percent(s.ICE.RelayRatio),
		fmt.Sprintf("%d of %d ICE-connected", s.ICE.Relay, s.ICE.Connected), "ice.relay_ratio")
	tile("One-way audio", strconv.Itoa(s.Media.OneWayAudio), fmt.Sprintf("%d with no audio", s.Media.NoAudio),
		"media.one_way_audio", "media.no_audio")
	tile("MOS p50", fixed(s.MOS.P50, 2), fmt.Sprintf("over %d calls", s.MOS.N), "mos.p50")
	tile("MOS p5", fixed(s.MOS.P5, 2), "the worst 5% of calls", "mos.p5")
	tile("Setup p50", millis(s.SetupMS.P50), "dial to first audio", "setup_ms.p50")
	tile("Setup p95", millis(s.SetupMS.P95), fmt.Sprintf("over %d calls", s.SetupMS.N), "setup_ms.p95")
	v.Rooms = newHTMLRooms(s.Rooms, held)

	for _, t := range s.Thresholds {
		h := htmlThreshold{Name: t.Name, OK: t.OK, Default: t.Default, Note: t.Note, Actual: "no data", Class: "bad"}
		if !t.NoData {
			h.Actual = formatFloat(t.Actual)
		}
		if t.OK {
			h.Class = "ok"
		}
		v.Thresholds = append(v.Thresholds, h)
		if !t.OK {
			f := h
			f.Actual, f.Note = "actual "+h.Actual, ""
			if t.NoData {
				f.Actual, f.Note = "no data", t.Note
			}
			if t.Default {
				f.Note = strings.TrimSuffix("default threshold; "+f.Note, "; ")
			}
			v.Failed = append(v.Failed, f)
		}
	}

	p := s.SetupPhases
	v.Phases = []htmlDist{
		msDist("Signaling (INVITE to 200 OK)", p.SignalingMS),
		msDist("ICE (answer to connected)", p.ICEMS),
		msDist("DTLS (connected to handshake done)", p.DTLSMS),
		msDist("First media (to first audio packet)", p.FirstMediaMS),
		msDist("Total (dial to first audio)", s.SetupMS),
	}
	m := s.Media
	v.Media = []htmlDist{
		{Name: "Loss (%)", N: m.LossPct.N, P50: fixed(m.LossPct.P50, 2), P95: fixed(m.LossPct.P95, 2)},
		msDist("Jitter", m.JitterMS),
		msDist("One-way delay", m.DelayMS),
	}

	// The candidate pairs are in the ICE section's matrix.
	n := s.Negotiated
	for _, c := range []struct {
		title string
		m     map[string]int
	}{
		{"DTLS version", n.DTLSVersion}, {"Cipher suite", n.CipherSuite}, {"SRTP profile", n.SRTPProfile},
		{"Fingerprint hash", n.FingerprintHash}, {"Codec", n.Codec}, {"Relay protocol (calls)", n.RelayProtocol},
	} {
		v.Negotiated = append(v.Negotiated, countTable(c.title, c.m))
	}
	if len(n.TrunkSRTP) > 0 {
		v.Negotiated = append(v.Negotiated, countTable("Phone-side SRTP", n.TrunkSRTP))
	}

	for _, a := range s.Attacks {
		v.Attacks = append(v.Attacks, htmlAttack{AttackSummary: a, Class: verdictClass(a.Verdict)})
		if a.Verdict == VerdictVulnerable {
			v.Failed = append(v.Failed, htmlThreshold{Name: "attack " + a.Name, Actual: VerdictVulnerable, Note: firstOf(a.Evidence)})
		}
	}
	v.Meta = runMetaRows(s.Run)
	return v
}

func firstOf(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return ss[0]
}

// byline is the line under the title: when, how long, which seed.
func byline(m RunMeta) []string {
	var b []string
	if !m.Start.IsZero() {
		b = append(b, m.Start.UTC().Format("2006-01-02 15:04 UTC"))
	}
	if m.DurationMS > 0 {
		b = append(b, "ran "+(time.Duration(m.DurationMS*float64(time.Millisecond))).Round(time.Second).String())
	}
	b = append(b, "seed "+strconv.FormatInt(m.Seed, 10))
	if m.Interrupted {
		b = append(b, "interrupted")
	}
	return b
}

func statusClass(st Status) string {
	switch st {
	case StatusPass:
		return "ok"
	case StatusInconclusive:
		return "warn"
	}
	return "bad"
}

func statusLine(s *Summary) string {
	held := 0
	for _, t := range s.Thresholds {
		if t.OK {
			held++
		}
	}
	line := fmt.Sprintf("%d of %d thresholds held", held, len(s.Thresholds))
	if len(s.Attacks) > 0 {
		line += fmt.Sprintf(" · %d of %d attacks found a weakness", s.attackCount(VerdictVulnerable), len(s.Attacks))
		if k := s.attackCount(VerdictInconclusive); k > 0 {
			line += fmt.Sprintf(", %d inconclusive", k)
		}
	}
	if s.Run.Interrupted {
		line += " · run interrupted: partial figures"
	}
	return line
}

// thresholdHeld maps each metric a threshold tested to whether all its
// thresholds held.
func thresholdHeld(ts []ThresholdResult) map[string]bool {
	held := map[string]bool{}
	for _, t := range ts {
		th, err := ParseThreshold(t.Name)
		if err != nil {
			continue
		}
		ok, seen := held[th.Metric]
		held[th.Metric] = t.OK && (ok || !seen)
	}
	return held
}

// tileClass colours a tile by the thresholds on its metrics, if any.
func tileClass(held map[string]bool, metrics []string) string {
	class := ""
	for _, m := range metrics {
		ok, seen := held[m]
		switch {
		case seen && !ok:
			return "bad"
		case seen:
			class = "ok"
		}
	}
	return class
}

func verdictClass(v string) string {
	switch v {
	case VerdictResisted:
		return "ok"
	case VerdictVulnerable:
		return "bad"
	}
	return "warn"
}

const noData = "—"

func percent(f *float64) string {
	if f == nil {
		return noData
	}
	return strconv.FormatFloat(*f*100, 'f', 1, 64) + "%"
}

func fixed(f *float64, digits int) string {
	if f == nil {
		return noData
	}
	return strconv.FormatFloat(*f, 'f', digits, 64)
}

func millis(f *float64) string {
	if f == nil {
		return noData
	}
	digits := 0
	if *f < 100 {
		digits = 1
	}
	return strconv.FormatFloat(*f, 'f', digits, 64) + " ms"
}

func msDist(name string, d Dist) htmlDist {
	return htmlDist{Name: name, N: d.N, P50: millis(d.P50), P95: millis(d.P95)}
}

// countTable lists m's values, most frequent first, ties by name.
func countTable(title string, m map[string]int) htmlCounts {
	total := 0
	for _, c := range m {
		total += c
	}
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		if a < b {
			return -1
		}
		return 1
	})
	t := htmlCounts{Title: title}
	for _, k := range keys {
		share := float64(m[k]) / float64(total)
		t.Rows = append(t.Rows, htmlKV{Key: k, Value: strconv.Itoa(m[k]), Share: percent(&share)})
	}
	return t
}

func runMetaRows(m RunMeta) []htmlKV {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return noData
		}
		return t.UTC().Format("2006-01-02 15:04:05.000 UTC")
	}
	rows := []htmlKV{
		{Key: "Scenario", Value: m.Scenario},
		{Key: "Target", Value: m.Target},
		{Key: "Seed", Value: strconv.FormatInt(m.Seed, 10)},
		{Key: "Start", Value: ts(m.Start)},
		{Key: "End", Value: ts(m.End)},
		{Key: "Duration", Value: (time.Duration(m.DurationMS * float64(time.Millisecond))).Round(time.Millisecond).String()},
		{Key: "Interrupted", Value: strconv.FormatBool(m.Interrupted)},
		{Key: "Gauntlet version", Value: m.Version},
		{Key: "Go version", Value: m.GoVersion},
		{Key: "OS/arch", Value: m.OS + "/" + m.Arch},
		{Key: "Host", Value: m.Hostname},
	}
	if m.CPUs > 0 {
		rows = append(rows, htmlKV{Key: "CPUs", Value: strconv.Itoa(m.CPUs)})
	}
	if m.MOSModel != "" {
		rows = append(rows, htmlKV{Key: "MOS model", Value: m.MOSModel})
	}
	rows = append(rows, htmlKV{Key: "Report charts", Value: "Chart.js " + chartJSVersion + " (MIT), embedded in this file"})
	for i := range rows {
		if strings.Trim(rows[i].Value, "/ ") == "" {
			rows[i].Value = noData
		}
	}
	return rows
}
