package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/reports"
)

// runCLI runs the CLI in-process and returns its exit code and output.
func runCLI(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func readSummary(t *testing.T, dir string) *reports.Summary {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, reports.SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := reports.ReadSummaryJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func assertReports(t *testing.T, dir string) {
	t.Helper()
	for _, name := range []string{reports.ResultsFile, reports.SummaryFile, reports.HTMLFile, reports.JUnitFile} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("report %s missing: %v", name, err)
		} else if st.Size() == 0 {
			t.Errorf("report %s is empty", name)
		}
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// callRecords reads the call records of a run.
func callRecords(t *testing.T, dir string) []reports.Result {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, reports.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []reports.Result
	err = reports.ReadJSONL(f, func(r reports.Result) error {
		if r.Kind == reports.KindCall {
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
