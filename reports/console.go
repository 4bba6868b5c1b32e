package reports

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// ConsoleLines is the end-of-run summary a person reads on the console,
// one line per element, without newlines: the verdict, calls, ICE (with
// each NAT pairing that did not end as expected), setup, MOS, media,
// rooms (when the run had room records: participants, ICE, timing, MOS,
// leaks with a few examples, failures), call failures, attacks,
// thresholds and warnings. It is the format gauntlet run and gauntlet
// report print, so that the CLI needs no knowledge of the summary's
// sections. Free text is redacted.
func ConsoleLines(s *Summary) []string {
	s = s.redacted()
	var out []string
	line := func(label, format string, args ...any) {
		out = append(out, fmt.Sprintf("  %-12s %s", label, fmt.Sprintf(format, args...)))
	}
	out = append(out, fmt.Sprintf("%s  scenario %q  seed %d  target %q", s.Status, s.Run.Scenario, s.Run.Seed, s.Run.Target))
	if s.Calls.Attempted > 0 || (s.Rooms == nil && len(s.Attacks) == 0) {
		out = append(out, callLines(s)...)
	}
	if r := s.Rooms; r != nil {
		line("rooms", "%d rooms (%d complete)  participants %d  joined %d  ok %d  failed %d  canceled %d",
			r.Count, r.Complete, r.Participants, r.Joined, r.OK, r.Failed, r.Canceled)
		line("rooms ice", "success %s  relay ratio %s", consolePct(r.ICE.SuccessRate), consoleRatio(r.ICE.RelayRatio))
		line("rooms ms", "join p50 %s  p95 %s  first audio p50 %s  p95 %s",
			consoleNum(r.JoinMS.P50), consoleNum(r.JoinMS.P95), consoleNum(r.FirstAudioMS.P50), consoleNum(r.FirstAudioMS.P95))
		line("rooms mos", "p50 %s  p5 %s  one-way audio %d", consoleNum(r.MOS.P50), consoleNum(r.MOS.P5), r.Media.OneWayAudio)
		line("rooms leaks", "%d in %d messages inspected%s", r.Leaks, r.Inspected, leakKinds(r.LeaksByKind))
		for _, l := range r.LeakExamples {
			line("rooms leak", "%s  %s", l.Kind, leakLine(l))
		}
		for _, f := range r.Failures {
			line("rooms failed", "%-12s %d  e.g. %v", f.Cause, f.Count, f.Examples)
		}
	}
	for _, f := range s.Failures {
		line("failures", "%-12s %d  e.g. %v", f.Cause, f.Count, f.Examples)
	}
	for _, a := range s.Attacks {
		if a.Verdict == VerdictVulnerable && a.Severity != "" {
			line("attack", "%-22s %s (%s)", a.Name, a.Verdict, a.Severity)
			continue
		}
		line("attack", "%-22s %s", a.Name, a.Verdict)
	}
	for _, t := range s.Thresholds {
		mark, note := "ok  ", ""
		if !t.OK {
			mark = "FAIL"
		}
		if t.Default {
			note = " (default)"
		}
		actual := "no data"
		if !t.NoData {
			actual = strconv.FormatFloat(t.Actual, 'g', 6, 64)
		}
		line("threshold", "%s %s: actual %s%s", mark, t.Name, actual, note)
	}
	for _, w := range s.Run.Warnings {
		line("warning", "%s", w)
	}
	return out
}

// seenOutcomes prints a pairing's outcomes: "relay 3, fail 1".
func seenOutcomes(ps *PairingStat) string {
	var seen []string
	for _, o := range slices.Sorted(maps.Keys(ps.Outcomes)) {
		if n := ps.Outcomes[o]; n > 0 {
			seen = append(seen, fmt.Sprintf("%s %d", o, n))
		}
	}
	return strings.Join(seen, ", ")
}

// leakKinds prints ": host-candidate 2, raddr 1", most frequent first.
func leakKinds(by map[string]int) string {
	var kinds []string
	for _, row := range countTable("", by).Rows {
		kinds = append(kinds, row.Key+" "+row.Value)
	}
	if len(kinds) == 0 {
		return ""
	}
	return ": " + strings.Join(kinds, ", ")
}

func consoleNum(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p, 'f', 2, 64)
}

func consolePct(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p*100, 'f', 1, 64) + "%"
}

func consoleRatio(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p, 'f', 3, 64)
}

// callLines are the console lines of the calls: counts, ICE (with each NAT
// pairing that did not end as expected), setup, MOS and media.
func callLines(s *Summary) []string {
	var out []string
	line := func(label, format string, args ...any) {
		out = append(out, fmt.Sprintf("  %-12s %s", label, fmt.Sprintf(format, args...)))
	}
	line("calls", "attempted %d  connected %d  failed %d  canceled %d",
		s.Calls.Attempted, s.Calls.Connected, s.Calls.Failed, s.Calls.Canceled)
	line("ice", "success %s  relay ratio %s", consolePct(s.ICE.SuccessRate), consoleRatio(s.ICE.RelayRatio))
	if s.ICE.Expected > 0 {
		line("nat pairings", "%d of %d calls ended otherwise than the pairing table expects", s.ICE.Unexpected, s.ICE.Expected)
		for _, p := range newHTMLPairings(s.ICE.ByPairing) {
			if p.Mismatch {
				line("nat pairing", "MISMATCH %s  expected %s  seen %s", p.Key, p.Expected, seenOutcomes(s.ICE.ByPairing[p.Key]))
			}
		}
	}
	line("setup ms", "p50 %s  p95 %s", consoleNum(s.SetupMS.P50), consoleNum(s.SetupMS.P95))
	line("mos", "p50 %s  p5 %s", consoleNum(s.MOS.P50), consoleNum(s.MOS.P5))
	line("media", "loss%% p50 %s  jitter ms p95 %s  one-way audio %d",
		consoleNum(s.Media.LossPct.P50), consoleNum(s.Media.JitterMS.P95), s.Media.OneWayAudio)
	return out
}
