package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gauntlet-rtc/gauntlet/reports"
)

// cmdReport rebuilds summary.json, report.html and junit.xml from a
// results.jsonl, offline. The run's metadata and thresholds come from the
// summary.json beside it when there is one.
func cmdReport(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", "report RESULTS.jsonl [--out DIR]", stderr)
	out := fs.String("out", "", "where to write the reports (default: beside RESULTS.jsonl)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) != 1 {
		fs.Usage()
		return invalidf("report takes one results.jsonl, got %d arguments", len(pos))
	}
	in := pos[0]
	dir := *out
	if dir == "" {
		dir = filepath.Dir(in)
	}
	meta, thresholds, err := previousRun(filepath.Join(filepath.Dir(in), reports.SummaryFile))
	if err != nil {
		return withCode(exitInvalid, err, "")
	}
	f, err := os.Open(in)
	if err != nil {
		return withCode(exitInvalid, err, "")
	}
	defer f.Close()
	sum := reports.NewSummarizer(meta, reports.WithThresholds(thresholds...))
	if err := reports.ReadJSONL(f, func(r reports.Result) error { sum.Add(r); return nil }); err != nil {
		return withCode(exitInvalid, fmt.Errorf("%s: %w", in, err), "")
	}
	s := sum.Summary()
	if err := reports.WriteAll(dir, s); err != nil {
		return err
	}
	printVerdict(stdout, s, dir)
	return outcome(statusCode(s))
}

// previousRun reads the run metadata and thresholds of an earlier summary,
// if there is one; a missing file is not an error.
func previousRun(path string) (reports.RunMeta, []reports.Threshold, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return reports.HostMeta(reports.RunMeta{}), nil, nil
	}
	if err != nil {
		return reports.RunMeta{}, nil, err
	}
	defer f.Close()
	s, err := reports.ReadSummaryJSON(f)
	if err != nil {
		return reports.RunMeta{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	var ts []reports.Threshold
	for _, tr := range s.Thresholds {
		t, err := reports.ParseThreshold(tr.Name)
		if err != nil {
			return reports.RunMeta{}, nil, fmt.Errorf("%s: threshold %q: %w", path, tr.Name, err)
		}
		t.Default = tr.Default
		ts = append(ts, t)
	}
	meta := s.Run
	meta.Warnings = nil
	return meta, ts, nil
}

// statusCode maps a summary's verdict to the exit-code contract.
func statusCode(s *reports.Summary) int {
	switch {
	case s.Run.Interrupted:
		return exitInterrupted
	case s.Status == reports.StatusFail:
		return exitFailed
	case s.Status == reports.StatusInconclusive:
		return exitInconclusive
	}
	return exitOK
}
