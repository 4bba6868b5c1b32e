package main

import (
	"fmt"
	"io"
	"strconv"

	"github.com/gauntlet-rtc/gauntlet/reports"
)

// printVerdict writes the end-of-run summary a person reads on the console.
func printVerdict(w io.Writer, s *reports.Summary, dir string) {
	fmt.Fprintln(w)
	for _, l := range reports.ConsoleLines(s) {
		fmt.Fprintln(w, l)
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
