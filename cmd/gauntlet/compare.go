package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gauntlet-rtc/gauntlet/reports"
)

// cmdCompare compares two runs' summaries and exits 1 when the candidate
// regressed beyond noise (the rules are reports.CompareRules).
func cmdCompare(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("compare", "compare BASE CANDIDATE [--json] [--confidence 0.95]\n\n"+
		"BASE and CANDIDATE are run directories or summary.json files.", stderr)
	asJSON := fs.Bool("json", false, "print the comparison as JSON")
	confidence := fs.Float64("confidence", reports.DefaultConfidence,
		"how sure a rate's drop must be to count as a regression, in (0.5, 1)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) != 2 {
		fs.Usage()
		return invalidf("compare takes a base and a candidate run, got %d arguments", len(pos))
	}
	if !(*confidence > 0.5 && *confidence < 1) {
		return invalidf("--confidence %g: must be above 0.5 and below 1", *confidence)
	}
	base, err := loadSummary(pos[0])
	if err != nil {
		return err
	}
	cand, err := loadSummary(pos[1])
	if err != nil {
		return err
	}
	c := reports.Compare(base, cand, reports.CompareOptions{
		Confidence: *confidence, BaseLabel: pos[0], CandidateLabel: pos[1],
	})
	write := reports.WriteComparison
	if *asJSON {
		write = reports.WriteComparisonJSON
	}
	if err := write(stdout, c); err != nil {
		return err
	}
	if c.Regressed() {
		return outcome(exitFailed)
	}
	return nil
}

// loadSummary reads a summary.json, or the one in a run directory.
func loadSummary(path string) (*reports.Summary, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, withCode(exitInvalid, err, "give a run directory (from 'gauntlet run --out') or its summary.json")
	}
	if st.IsDir() {
		path = filepath.Join(path, reports.SummaryFile)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, withCode(exitInvalid, err, "a run directory holds summary.json once the run has ended; "+
			"'gauntlet report DIR/results.jsonl' rebuilds it")
	}
	defer f.Close()
	s, err := reports.ReadSummaryJSON(f)
	if err != nil {
		return nil, withCode(exitInvalid, fmt.Errorf("%s: %w", path, err), "")
	}
	return s, nil
}
