package reports

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Better says which way a compared figure improves.
type Better string

// Directions of improvement. BetterNone marks a figure shown for context
// (calls attempted, relay ratio): it never regresses.
const (
	BetterNone   Better = ""
	BetterHigher Better = "higher"
	BetterLower  Better = "lower"
)

// Change is Compare's verdict on one row.
type Change string

// Verdicts of a comparison row. Only ChangeRegression fails a comparison.
const (
	ChangeRegression Change = "REGRESSION"
	ChangeImproved   Change = "improved"
	ChangeNoise      Change = "within noise" // different, but not beyond the rule's tolerance or significance
	ChangeSame       Change = "same"
	ChangeInfo       Change = "info"    // context, or a row only one side has
	ChangeNoData     Change = "no data" // neither side measured it
)

// DefaultConfidence is how sure Compare must be that a rate got worse
// before it calls it a regression (a one-sided test at 5%).
const DefaultConfidence = 0.95

// CompareRule is how Compare judges one metric of KnownMetrics.
//
// A rate rule (Rate set) judges a proportion of calls: connected calls of
// those that ended, ICE-connected of SDP-exchanged, calls with one-way audio.
// It is a regression when Fisher's exact test (one-sided) says the
// candidate's proportion of bad outcomes is higher than the base's with the
// comparison's confidence, and the rate moved by more than Abs. So a rerun
// that differs by chance passes, while with few calls only a large drop is
// significant: 10 of 10 connected to 7 of 10 is within noise (p ≈ 0.11);
// 10 of 10 to 6 of 10 regresses (p ≈ 0.04), as does 1000 of 1000 to 995 of
// 1000 (p ≈ 0.03). Rate applies to calls.connected (of the calls not
// canceled), ice.success_rate, registrations.ok, media.one_way_audio and
// media.no_audio, rooms.failed (of the participants not canceled),
// rooms.ice.success_rate and rooms.media.one_way_audio; on any other
// metric the rule is a figure rule.
//
// A figure rule (a percentile) has no samples to test, so it is a
// regression when the figure moved the wrong way by more than the larger of
// Abs and Rel times the base figure.
//
// A figure the base measured and the candidate did not (no call connected,
// so no MOS) is a regression; one only the candidate measured is info.
type CompareRule struct {
	Metric string  `json:"metric"`
	Better Better  `json:"better,omitempty"`
	Rate   bool    `json:"rate,omitempty"`
	Abs    float64 `json:"abs,omitempty"`
	Rel    float64 `json:"rel,omitempty"`
}

// rateCounts gives a rate rule's counts: bad outcomes and trials.
var rateCounts = map[string]func(s *Summary) (bad, n int){
	"calls.connected": func(s *Summary) (int, int) {
		n := s.Calls.Attempted - s.Calls.Canceled
		return n - s.Calls.Connected, n
	},
	"ice.success_rate":    func(s *Summary) (int, int) { return s.ICE.SDPExchanged - s.ICE.Connected, s.ICE.SDPExchanged },
	"registrations.ok":    func(s *Summary) (int, int) { return s.Registrations.Failed, s.Registrations.Attempted },
	"media.one_way_audio": func(s *Summary) (int, int) { return s.Media.OneWayAudio, s.Calls.Attempted - s.Calls.Canceled },
	"media.no_audio":      func(s *Summary) (int, int) { return s.Media.NoAudio, s.Calls.Attempted - s.Calls.Canceled },
	"rooms.failed": func(s *Summary) (int, int) {
		r := roomsOrZero(s)
		return r.Failed, r.Participants - r.Canceled
	},
	"rooms.ice.success_rate": func(s *Summary) (int, int) {
		r := roomsOrZero(s)
		return r.ICE.SDPExchanged - r.ICE.Connected, r.ICE.SDPExchanged
	},
	"rooms.media.one_way_audio": func(s *Summary) (int, int) {
		r := roomsOrZero(s)
		return r.Media.OneWayAudio, r.Participants - r.Canceled
	},
}

// roomsOrZero is s's rooms section, or an empty one.
func roomsOrZero(s *Summary) *RoomsSummary {
	if s.Rooms == nil {
		return &RoomsSummary{}
	}
	return s.Rooms
}

// CompareRules returns the rules Compare applies, in the order it prints
// them. The tolerances ignore the run-to-run noise of loopback runs on a
// busy two-core machine (between seeds of the smoke scenario, jitter p95
// moved between 1.7 and 8.4 ms and setup p50 between 16 and 33 ms) and
// catch what an operator would call worse: lost calls (with enough calls to
// tell), MOS down by a tenth, setup half as slow again and 50 ms more,
// jitter up by half and 10 ms more. The rooms rules read the same way for
// room participants, and any address leaked beyond the base's count
// regresses (a leak breaks the relay-only promise, whatever the noise).
// Compare leaves the rooms rules out when neither run had room records.
func CompareRules() []CompareRule {
	return []CompareRule{
		{Metric: "calls.attempted"},
		{Metric: "calls.connected", Better: BetterHigher, Rate: true},
		{Metric: "registrations.ok", Better: BetterHigher, Rate: true},
		{Metric: "ice.success_rate", Better: BetterHigher, Rate: true},
		{Metric: "ice.relay_ratio"},
		{Metric: "mos.p50", Better: BetterHigher, Abs: 0.1},
		{Metric: "mos.p5", Better: BetterHigher, Abs: 0.2},
		{Metric: "setup_ms.p50", Better: BetterLower, Abs: 50, Rel: 0.5},
		{Metric: "setup_ms.p95", Better: BetterLower, Abs: 100, Rel: 0.5},
		{Metric: "setup_phases.signaling_ms.p95"},
		{Metric: "setup_phases.ice_ms.p95"},
		{Metric: "setup_phases.dtls_ms.p95"},
		{Metric: "setup_phases.first_media_ms.p95"},
		{Metric: "media.loss_pct.p50", Better: BetterLower, Abs: 0.5},
		{Metric: "media.loss_pct.p95", Better: BetterLower, Abs: 1, Rel: 0.5},
		{Metric: "media.jitter_ms.p95", Better: BetterLower, Abs: 10, Rel: 0.5},
		{Metric: "media.delay_ms.p95", Better: BetterLower, Abs: 20, Rel: 0.5},
		{Metric: "media.one_way_audio", Better: BetterLower, Rate: true},
		{Metric: "media.no_audio", Better: BetterLower, Rate: true},
		{Metric: "rooms.participants"},
		{Metric: "rooms.failed", Better: BetterLower, Rate: true},
		{Metric: "rooms.ice.success_rate", Better: BetterHigher, Rate: true},
		{Metric: "rooms.ice.relay_ratio"},
		{Metric: "rooms.mos.p50", Better: BetterHigher, Abs: 0.1},
		{Metric: "rooms.mos.p5", Better: BetterHigher, Abs: 0.2},
		{Metric: "rooms.join_ms.p95", Better: BetterLower, Abs: 100, Rel: 0.5},
		{Metric: "rooms.first_audio_ms.p95", Better: BetterLower, Abs: 100, Rel: 0.5},
		{Metric: "rooms.media.one_way_audio", Better: BetterLower, Rate: true},
		{Metric: "rooms.leaks", Better: BetterLower},
	}
}

// CompareOptions configures Compare. The zero value applies CompareRules
// at DefaultConfidence.
type CompareOptions struct {
	Confidence float64       // in (0, 1); 0 means DefaultConfidence
	Rules      []CompareRule // nil means CompareRules()
	// BaseLabel and CandidateLabel name the two sides when printed (for
	// example the run directories).
	BaseLabel, CandidateLabel string
}

// Comparison is Compare's result: one row per rule, attack and threshold.
type Comparison struct {
	BaseLabel      string       `json:"base_label,omitempty"`
	CandidateLabel string       `json:"candidate_label,omitempty"`
	Base           RunMeta      `json:"base"`
	Candidate      RunMeta      `json:"candidate"`
	Confidence     float64      `json:"confidence"`
	Rows           []CompareRow `json:"rows"`
	Warnings       []string     `json:"warnings"`
}

// CompareRow compares one figure, attack or threshold.
type CompareRow struct {
	Name string `json:"name"` // metric, "attack NAME" or "threshold EXPR"
	// Base and Candidate are the figures as printed ("9/10 (90.0%)",
	// "4.31", "resisted", "held"); "—" when a side has none.
	Base      string   `json:"base"`
	Candidate string   `json:"candidate"`
	BaseValue *float64 `json:"base_value"` // the metric's value, when numeric
	CandValue *float64 `json:"candidate_value"`
	Better    Better   `json:"better,omitempty"`
	Change    Change   `json:"change"`
	Why       string   `json:"why,omitempty"` // the rule and figures behind Change
}

// Regressions returns the rows that regressed.
func (c Comparison) Regressions() []CompareRow {
	var out []CompareRow
	for _, r := range c.Rows {
		if r.Change == ChangeRegression {
			out = append(out, r)
		}
	}
	return out
}

// Regressed reports whether any row regressed.
func (c Comparison) Regressed() bool { return len(c.Regressions()) > 0 }

// Compare judges cand against base, rule by rule, then attack by attack
// (a new VULNERABLE verdict regresses) and threshold by threshold (one that
// held in base and fails in cand regresses). It is pure: it reads the two
// summaries and nothing else.
func Compare(base, cand *Summary, opts CompareOptions) Comparison {
	conf := opts.Confidence
	if conf <= 0 || conf >= 1 {
		conf = DefaultConfidence
	}
	rules := opts.Rules
	if rules == nil {
		rules = CompareRules()
	}
	c := Comparison{
		BaseLabel: opts.BaseLabel, CandidateLabel: opts.CandidateLabel,
		Base: base.Run, Candidate: cand.Run, Confidence: conf,
		Rows: []CompareRow{}, Warnings: compareWarnings(base, cand),
	}
	noRooms := base.Rooms == nil && cand.Rooms == nil
	for _, r := range rules {
		if _, known := lookupMetric(r.Metric); !known {
			c.Warnings = append(c.Warnings, fmt.Sprintf("rule for unknown metric %q skipped", r.Metric))
			continue
		}
		if noRooms && strings.HasPrefix(r.Metric, "rooms.") {
			continue
		}
		if count := rateCounts[r.Metric]; r.Rate && count != nil {
			c.Rows = append(c.Rows, compareRate(r, base, cand, count, 1-conf))
		} else {
			c.Rows = append(c.Rows, compareFigure(r, base, cand))
		}
	}
	c.Rows = append(c.Rows, compareAttacks(base, cand)...)
	c.Rows = append(c.Rows, compareThresholds(base, cand)...)
	return c
}

func compareWarnings(base, cand *Summary) []string {
	w := []string{}
	if base.Run.Scenario != cand.Run.Scenario {
		w = append(w, fmt.Sprintf("the runs are of different scenarios (%q and %q)", base.Run.Scenario, cand.Run.Scenario))
	}
	if a, b := base.Calls.Attempted, cand.Calls.Attempted; a != b {
		w = append(w, fmt.Sprintf("the runs attempted different numbers of calls (%d and %d): rates are compared, counts are not", a, b))
	}
	if a, b := roomsOrZero(base).Participants, roomsOrZero(cand).Participants; a != b {
		w = append(w, fmt.Sprintf("the runs had different numbers of room participants (%d and %d): rates are compared, counts are not", a, b))
	}
	for _, side := range []struct {
		name string
		s    *Summary
	}{{"base", base}, {"candidate", cand}} {
		if side.s.Run.Interrupted {
			w = append(w, "the "+side.name+" run was interrupted: its figures are partial")
		}
	}
	return w
}

func compareRate(r CompareRule, base, cand *Summary, count func(*Summary) (int, int), alpha float64) CompareRow {
	row := CompareRow{Name: r.Metric, Better: r.Better}
	bBad, bN := count(base)
	cBad, cN := count(cand)
	row.BaseValue, row.CandValue = metricValue(base, r.Metric), metricValue(cand, r.Metric)
	row.Base, row.Candidate = rateText(r, bBad, bN), rateText(r, cBad, cN)
	switch {
	case bN == 0 && cN == 0:
		row.Change = ChangeNoData
		return row
	case cN == 0:
		row.Change, row.Why = ChangeRegression, "the candidate has nothing to measure it on"
		return row
	case bN == 0:
		row.Change = ChangeInfo
		return row
	}
	bRate, cRate := float64(bBad)/float64(bN), float64(cBad)/float64(cN)
	if bRate == cRate {
		row.Change = ChangeSame
		return row
	}
	worse := fisherGreater(bBad, bN, cBad, cN)  // P(candidate this bad or worse by chance)
	better := fisherGreater(cBad, cN, bBad, bN) // and the other way round
	moved := math.Abs(cRate-bRate) > r.Abs
	pts := (cRate - bRate) * 100 // change of the printed rate, in percentage points
	if r.Better == BetterHigher {
		pts = -pts
	}
	switch {
	case cRate > bRate && worse < alpha && moved:
		row.Change = ChangeRegression
		row.Why = fmt.Sprintf("%+.1f points, p = %.3g < %.3g", pts, worse, alpha)
	case cRate < bRate && better < alpha && moved:
		row.Change = ChangeImproved
		row.Why = fmt.Sprintf("%+.1f points, p = %.3g", pts, better)
	default:
		p := worse
		if cRate < bRate {
			p = better
		}
		row.Change = ChangeNoise
		row.Why = fmt.Sprintf("p = %.3g, not below %.3g", p, alpha)
	}
	return row
}

// rateText prints a rate rule's side: "9/10 (90.0%)" of good outcomes for
// a higher-is-better rate, "1/10 (10.0%)" of bad ones otherwise.
func rateText(r CompareRule, bad, n int) string {
	if n == 0 {
		return noData
	}
	k := bad
	if r.Better == BetterHigher {
		k = n - bad
	}
	return fmt.Sprintf("%d/%d (%.1f%%)", k, n, 100*float64(k)/float64(n))
}

func compareFigure(r CompareRule, base, cand *Summary) CompareRow {
	row := CompareRow{Name: r.Metric, Better: r.Better}
	row.BaseValue, row.CandValue = metricValue(base, r.Metric), metricValue(cand, r.Metric)
	row.Base, row.Candidate = figureText(row.BaseValue), figureText(row.CandValue)
	b, c := row.BaseValue, row.CandValue
	switch {
	case b == nil && c == nil:
		row.Change = ChangeNoData
		return row
	case r.Better != BetterNone && c == nil:
		row.Change, row.Why = ChangeRegression, "the base measured it, the candidate did not"
		return row
	case b == nil || c == nil || r.Better == BetterNone:
		row.Change = ChangeInfo
		return row
	case *b == *c:
		row.Change = ChangeSame
		return row
	}
	delta := *c - *b
	tol := max(r.Abs, r.Rel*math.Abs(*b))
	worse := (r.Better == BetterHigher) == (delta < 0)
	nb, nc := percentileSamples(base, r.Metric), percentileSamples(cand, r.Metric)
	switch {
	case worse && math.Abs(delta) > tol && (nb < MinPercentileSamples || nc < MinPercentileSamples):
		row.Change = ChangeNoise
		row.Why = fmt.Sprintf("%s, but too few samples to tell (%d and %d; %d needed)", signed(delta), nb, nc, MinPercentileSamples)
	case math.Abs(delta) <= tol:
		row.Change = ChangeNoise
		row.Why = fmt.Sprintf("%s within tolerance %s", signed(delta), tolText(r, tol))
	case worse:
		row.Change = ChangeRegression
		row.Why = fmt.Sprintf("%s beyond tolerance %s", signed(delta), tolText(r, tol))
	default:
		row.Change = ChangeImproved
		row.Why = signed(delta)
	}
	return row
}

func tolText(r CompareRule, tol float64) string {
	t := "±" + shortFloat(tol)
	if r.Rel > 0 && tol > r.Abs {
		t += fmt.Sprintf(" (%g%% of base)", r.Rel*100)
	}
	return t
}

func signed(f float64) string {
	s := shortFloat(f)
	if f > 0 {
		s = "+" + s
	}
	return s
}

// shortFloat prints a figure with the digits a person needs: 143, 68.4,
// 4.31, 0.08.
func shortFloat(f float64) string {
	digits := 2
	switch a := math.Abs(f); {
	case a > 0 && a < 0.01:
		return strconv.FormatFloat(f, 'g', 2, 64)
	case a == math.Trunc(a) && a >= 10, a == 0:
		digits = 0
	case a >= 100:
		digits = 0
	case a >= 10:
		digits = 1
	}
	return strconv.FormatFloat(f, 'f', digits, 64)
}

func metricValue(s *Summary, name string) *float64 {
	if v, ok := s.Metric(name); ok {
		return &v
	}
	return nil
}

func figureText(v *float64) string {
	if v == nil {
		return noData
	}
	return shortFloat(*v)
}

// compareAttacks gives one row per attack either run made, base's first.
func compareAttacks(base, cand *Summary) []CompareRow {
	var names []string
	for _, a := range slices.Concat(base.Attacks, cand.Attacks) {
		if !slices.Contains(names, a.Name) {
			names = append(names, a.Name)
		}
	}
	verdict := func(s *Summary, name string) string {
		if i := slices.IndexFunc(s.Attacks, func(a AttackSummary) bool { return a.Name == name }); i >= 0 {
			return s.Attacks[i].Verdict
		}
		return ""
	}
	rows := make([]CompareRow, 0, len(names))
	for _, n := range names {
		b, c := verdict(base, n), verdict(cand, n)
		row := CompareRow{Name: "attack " + n, Base: orNoData(b), Candidate: orNoData(c)}
		switch {
		case c == "":
			row.Change, row.Why = ChangeInfo, "not run by the candidate"
		case b == c:
			row.Change = ChangeSame
		case c == VerdictVulnerable:
			row.Change, row.Why = ChangeRegression, "the candidate is vulnerable"
		case b == "":
			row.Change, row.Why = ChangeInfo, "not run by the base"
		case verdictRank(c) < verdictRank(b):
			row.Change = ChangeImproved
		default:
			row.Change, row.Why = ChangeNoise, "worse verdict, but not vulnerable"
		}
		rows = append(rows, row)
	}
	return rows
}

// compareThresholds gives one row per threshold of the candidate.
func compareThresholds(base, cand *Summary) []CompareRow {
	held := func(ok bool) string {
		if ok {
			return "held"
		}
		return "failed"
	}
	rows := make([]CompareRow, 0, len(cand.Thresholds))
	for _, t := range cand.Thresholds {
		row := CompareRow{Name: "threshold " + t.Name, Base: noData, Candidate: held(t.OK)}
		i := slices.IndexFunc(base.Thresholds, func(b ThresholdResult) bool { return b.Name == t.Name })
		switch {
		case i < 0:
			row.Change, row.Why = ChangeInfo, "not in the base run"
		case base.Thresholds[i].OK && !t.OK:
			row.Change, row.Why = ChangeRegression, "held in the base run"
		case !base.Thresholds[i].OK && t.OK:
			row.Change = ChangeImproved
		default:
			row.Change = ChangeSame
		}
		if i >= 0 {
			row.Base = held(base.Thresholds[i].OK)
		}
		rows = append(rows, row)
	}
	return rows
}

func orNoData(s string) string {
	if s == "" {
		return noData
	}
	return s
}

// fisherGreater is the one-sided p-value of Fisher's exact test that the
// second group's share of bad outcomes (bad2 of n2) is higher than the
// first's (bad1 of n1): the chance, with the margins fixed, of the second
// group drawing bad2 or more of the bad outcomes.
func fisherGreater(bad1, n1, bad2, n2 int) float64 {
	total, bads := n1+n2, bad1+bad2
	p := 0.0
	for x := bad2; x <= min(bads, n2); x++ {
		p += math.Exp(logChoose(bads, x) + logChoose(total-bads, n2-x) - logChoose(total, n2))
	}
	return min(p, 1)
}

func logChoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

// MinPercentileSamples is how many samples a percentile needs on both sides
// before a change in it can be called a regression: the p50 of two calls is
// one call, and one slow call is not evidence.
const MinPercentileSamples = 10

// percentileSamples is the sample count behind a percentile metric
// ("setup_ms.p50" -> setup_ms.n); a large number for other metrics.
func percentileSamples(s *Summary, metric string) int {
	r := roomsOrZero(s)
	switch {
	case strings.HasPrefix(metric, "rooms.mos."):
		return r.MOS.N
	case strings.HasPrefix(metric, "rooms.join_ms."):
		return r.JoinMS.N
	case strings.HasPrefix(metric, "rooms.first_audio_ms."):
		return r.FirstAudioMS.N
	case strings.HasPrefix(metric, "rooms.media.loss_pct."):
		return r.Media.LossPct.N
	case strings.HasPrefix(metric, "rooms.media.jitter_ms."):
		return r.Media.JitterMS.N
	case strings.HasPrefix(metric, "mos."):
		return s.MOS.N
	case strings.HasPrefix(metric, "setup_ms."):
		return s.SetupMS.N
	case strings.HasPrefix(metric, "media.loss_pct."):
		return s.Media.LossPct.N
	case strings.HasPrefix(metric, "media.jitter_ms."):
		return s.Media.JitterMS.N
	case strings.HasPrefix(metric, "media.delay_ms."):
		return s.Media.DelayMS.N
	}
	return math.MaxInt
}
