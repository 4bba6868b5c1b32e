package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteComparison prints c for a person: the two runs side by side, one
// line per row (rows neither run measured left out), then the verdict.
// Regressions are marked in capitals.
func WriteComparison(w io.Writer, c Comparison) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	side := func(label string, m RunMeta) []string {
		started := noData
		if !m.Start.IsZero() {
			started = m.Start.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		dur := time.Duration(m.DurationMS * float64(time.Millisecond)).Round(time.Millisecond).String()
		if label == "" {
			label = noData
		}
		return []string{label, m.Scenario, fmt.Sprint(m.Seed), started, dur, orNoData(m.Version)}
	}
	b, k := side(c.BaseLabel, c.Base), side(c.CandidateLabel, c.Candidate)
	fmt.Fprintf(tw, "\tbase\tcandidate\n")
	for i, name := range []string{"from", "scenario", "seed", "started", "duration", "version"} {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name, Redact(b[i]), Redact(k[i]))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write comparison: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write comparison: %w", err)
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "metric\tbase\tcandidate\tbetter\tverdict\twhy\n")
	hidden := 0
	for _, r := range c.Rows {
		if r.Change == ChangeNoData {
			hidden++
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Base, r.Candidate, r.Better, r.Change, r.Why)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write comparison: %w", err)
	}
	var tail strings.Builder
	if hidden > 0 {
		fmt.Fprintf(&tail, "not shown: %d rows neither run has data for\n", hidden)
	}
	for _, warn := range c.Warnings {
		fmt.Fprintf(&tail, "warning: %s\n", Redact(warn))
	}
	reg := c.Regressions()
	if len(reg) == 0 {
		fmt.Fprintf(&tail, "\nno regression: %d rows compared at %g%% confidence\n", len(c.Rows), c.Confidence*100)
	} else {
		names := make([]string, len(reg))
		for i, r := range reg {
			names[i] = r.Name
		}
		fmt.Fprintf(&tail, "\nREGRESSION: %d of %d rows got worse beyond noise: %s\n", len(reg), len(c.Rows), strings.Join(names, ", "))
	}
	if _, err := io.WriteString(w, tail.String()); err != nil {
		return fmt.Errorf("write comparison: %w", err)
	}
	return nil
}

// WriteComparisonJSON writes c as indented JSON, its run metadata redacted.
func WriteComparisonJSON(w io.Writer, c Comparison) error {
	c.Base.Target, c.Candidate.Target = Redact(c.Base.Target), Redact(c.Candidate.Target)
	c.Base.Warnings, c.Candidate.Warnings = redactAll(c.Base.Warnings), redactAll(c.Candidate.Warnings)
	c.Warnings = redactAll(c.Warnings)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return fmt.Errorf("write comparison: %w", err)
	}
	return nil
}
