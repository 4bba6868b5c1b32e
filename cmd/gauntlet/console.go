package main

import (
	"fmt"
	"io"
	"strconv"

	"github.com/gauntlet-rtc/gauntlet/reports"
)

// printVerdict writes the end-of-run summary a person reads on the console.
func printVerdict(w io.Writer, s *reports.Summary, dir string) {
	fmt.Fprintf(w, "\n%s  scenario %q  seed %d  target %q\n", s.Status, s.Run.Scenario, s.Run.Seed, s.Run.Target)
	fmt.Fprintf(w, "  calls        attempted %d  connected %d  failed %d  canceled %d\n",
		s.Calls.Attempted, s.Calls.Connected, s.Calls.Failed, s.Calls.Canceled)
	fmt.Fprintf(w, "  ice          success %s  relay ratio %s\n", pct(s.ICE.SuccessRate), ratio(s.ICE.RelayRatio))
	fmt.Fprintf(w, "  setup ms     p50 %s  p95 %s\n", num(s.SetupMS.P50), num(s.SetupMS.P95))
	fmt.Fprintf(w, "  mos          p50 %s  p5 %s\n", num(s.MOS.P50), num(s.MOS.P5))
	fmt.Fprintf(w, "  media        loss%% p50 %s  jitter ms p95 %s  one-way audio %d\n",
		num(s.Media.LossPct.P50), num(s.Media.JitterMS.P95), s.Media.OneWayAudio)
	for _, f := range s.Failures {
		fmt.Fprintf(w, "  failures     %-12s %d  e.g. %v\n", f.Cause, f.Count, f.Examples)
	}
	for _, a := range s.Attacks {
		fmt.Fprintf(w, "  attack       %-22s %s\n", a.Name, a.Verdict)
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
		fmt.Fprintf(w, "  threshold    %s %s: actual %s%s\n", mark, t.Name, actual, note)
	}
	for _, warn := range s.Run.Warnings {
		fmt.Fprintf(w, "  warning      %s\n", warn)
	}
	if dir != "" {
		fmt.Fprintf(w, "  reports      %s\n", dir)
	}
}

func num(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p, 'f', 2, 64)
}

func pct(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p*100, 'f', 1, 64) + "%"
}

func ratio(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p, 'f', 3, 64)
}
