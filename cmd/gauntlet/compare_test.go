package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/reports"
)

// compareCLI runs `gauntlet compare` in-process and returns its exit code.
func compareCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := cmdCompare(context.Background(), args, &stdout, &stderr)
	if err != nil && !isQuiet(err) {
		stderr.WriteString(err.Error())
	}
	return codeOf(err), stdout.String(), stderr.String()
}

// TestCompareRealReruns runs the quick scenario twice with different
// seeds against the embedded reference: the rerun is not a regression.
// Then it plants one (every call of the second run failed) and compare
// must flag it.
func TestCompareRealReruns(t *testing.T) {
	base, rerun := t.TempDir(), t.TempDir()
	for _, r := range []struct{ dir, seed string }{{base, "1"}, {rerun, "2"}} {
		code, stdout, stderr := runCLI(t, testContext(t, time.Minute), "run", "testdata/quick.yaml", "--out", r.dir, "--seed", r.seed)
		if code != exitOK {
			t.Fatalf("run --seed %s: exit %d\n%s\n%s", r.seed, code, stdout, stderr)
		}
	}
	code, stdout, stderr := compareCLI(t, base, filepath.Join(rerun, reports.SummaryFile))
	if code != exitOK || !strings.Contains(stdout, "no regression") {
		t.Fatalf("rerun with another seed: exit %d\n%s\n%s", code, stdout, stderr)
	}

	planted := t.TempDir()
	plantFailures(t, filepath.Join(rerun, reports.ResultsFile), filepath.Join(planted, reports.ResultsFile))
	if code, out, errOut := runCLI(t, testContext(t, 10*time.Second), "report", filepath.Join(planted, reports.ResultsFile)); code != exitFailed {
		t.Fatalf("report of the planted run: exit %d\n%s\n%s", code, out, errOut)
	}
	code, stdout, _ = compareCLI(t, base, planted)
	if code != exitFailed || !strings.Contains(stdout, "REGRESSION") || !strings.Contains(stdout, "mos.p50") {
		t.Fatalf("planted regression: exit %d\n%s", code, stdout)
	}

	code, stdout, _ = compareCLI(t, "--json", base, planted)
	var c reports.Comparison
	if err := json.Unmarshal([]byte(stdout), &c); err != nil || code != exitFailed || !c.Regressed() {
		t.Fatalf("--json: exit %d, err %v\n%s", code, err, stdout)
	}
}

// plantFailures copies a results.jsonl with every call turned into an
// ICE failure.
func plantFailures(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := reports.CreateJSONL(to)
	if err != nil {
		t.Fatal(err)
	}
	err = reports.ReadJSONL(in, func(r reports.Result) error {
		if r.Kind == reports.KindCall {
			r.Outcome, r.Cause, r.Error = reports.OutcomeFailed, reports.CauseICE, "planted: ICE failed"
			r.ICE.Connected, r.Media, r.Phases = false, nil, reports.Phases{}
		}
		out.Add(r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCompareArguments(t *testing.T) {
	dir := t.TempDir()
	sum := filepath.Join(dir, reports.SummaryFile)
	if err := reports.WriteFileAtomic(sum, func(w io.Writer) error {
		return reports.WriteSummaryJSON(w, &reports.Summary{Run: reports.RunMeta{Scenario: "x"}})
	}); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(t.TempDir(), "garbage.json")
	if err := os.WriteFile(garbage, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"same run", []string{dir, sum}, exitOK, "no regression"},
		{"one argument", []string{dir}, exitInvalid, "got 1 arguments"},
		{"missing", []string{dir, filepath.Join(dir, "nope")}, exitInvalid, "no such file"},
		{"directory without summary", []string{dir, t.TempDir()}, exitInvalid, "summary.json"},
		{"not a summary", []string{dir, garbage}, exitInvalid, "garbage.json"},
		{"bad confidence", []string{dir, sum, "--confidence", "2"}, exitInvalid, "--confidence"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := compareCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(stdout+stderr, tt.want) {
				t.Fatalf("exit %d (want %d), output lacks %q:\n%s\n%s", code, tt.code, tt.want, stdout, stderr)
			}
		})
	}
}
