package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// File names in a run's output directory (DESIGN.md).
const (
	ResultsFile = "results.jsonl"
	SummaryFile = "summary.json"
	JUnitFile   = "junit.xml"
	HTMLFile    = "report.html"
)

// WriteSummaryJSON writes s, redacted, as indented JSON ending in a newline.
func WriteSummaryJSON(w io.Writer, s *Summary) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s.redacted()); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

// ReadSummaryJSON reads what WriteSummaryJSON wrote (gauntlet compare).
func ReadSummaryJSON(r io.Reader) (*Summary, error) {
	var s Summary
	if err := json.NewDecoder(r).Decode(&s); err != nil {
		return nil, fmt.Errorf("read summary: %w", err)
	}
	return &s, nil
}

// WriteAll writes summary.json, junit.xml and report.html into dir,
// creating dir if needed. Each file is written to a temporary file in dir,
// synced and renamed into place, so a reader never sees half a report. It
// writes every file it can and returns all errors joined.
func WriteAll(dir string, s *Summary) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create report directory: %w", err)
	}
	return errors.Join(
		WriteFileAtomic(filepath.Join(dir, SummaryFile), func(w io.Writer) error { return WriteSummaryJSON(w, s) }),
		WriteFileAtomic(filepath.Join(dir, JUnitFile), func(w io.Writer) error { return WriteJUnit(w, s) }),
		WriteFileAtomic(filepath.Join(dir, HTMLFile), func(w io.Writer) error { return WriteHTML(w, s) }),
	)
}

// WriteFileAtomic calls write on a temporary file next to path, syncs it,
// and renames it to path (mode 0644). On any error the temporary file is
// removed and path is left as it was.
func WriteFileAtomic(path string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close() // already failed; the first error is the one to report
			_ = os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// redacted returns a copy of s with every free-text field redacted, so that
// a Summary built elsewhere (or read back) is as safe to write as one from
// a Summarizer. Redact is idempotent, so redacting twice is harmless. Nil
// lists become empty ones, so the JSON holds [] rather than null.
func (s *Summary) redacted() *Summary {
	c := *s
	c.Run.Target = Redact(s.Run.Target)
	c.Run.Warnings = redactAll(s.Run.Warnings)
	c.Negotiated = cloneNegotiated(s.Negotiated)
	c.Failures = redactFailures(s.Failures)
	c.Rooms = s.Rooms.redacted()
	c.Attacks = append([]AttackSummary{}, s.Attacks...)
	for i := range c.Attacks {
		c.Attacks[i].Evidence = redactAll(c.Attacks[i].Evidence)
		c.Attacks[i].Remediation = Redact(c.Attacks[i].Remediation)
	}
	c.Thresholds = append([]ThresholdResult{}, s.Thresholds...)
	for i := range c.Thresholds {
		c.Thresholds[i].Note = Redact(c.Thresholds[i].Note)
	}
	return &c
}

// redactFailures copies gs with their cause and error redacted; nil
// becomes empty.
func redactFailures(gs []FailureGroup) []FailureGroup {
	c := append([]FailureGroup{}, gs...)
	for i := range c {
		c[i].Cause = Redact(c[i].Cause)
		c[i].Error = Redact(c[i].Error)
	}
	return c
}

// redactAll redacts each string; it keeps an empty slice empty, not null.
func redactAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, v := range ss {
		out[i] = Redact(v)
	}
	return out
}
