package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/reports"
)

// A failed threshold exits 1 and names itself on the console, in JUnit and
// in the HTML report; the one that held is shown as held.
func TestFailedThresholdExits1AndNamesItself(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runCLI(t, testContext(t, time.Minute), "run", "testdata/strict.yaml", "--out", dir)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFailed, stdout, stderr)
	}
	const failed = "setup_ms.p95 <= 0.001"
	if !strings.Contains(stdout, "FAIL "+failed) || !strings.Contains(stdout, "ok   ice.success_rate >= 0.99") {
		t.Errorf("console does not show the failed and the held threshold:\n%s", stdout)
	}
	junit, err := os.ReadFile(filepath.Join(dir, reports.JUnitFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(junit), `<failure message="threshold setup_ms.p95 &lt;= 0.001 failed`) {
		t.Errorf("junit.xml has no failure naming the threshold:\n%s", junit)
	}
	html, err := os.ReadFile(filepath.Join(dir, reports.HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), "setup_ms.p95 &lt;= 0.001") {
		t.Error("report.html does not name the failed threshold")
	}
	if s := readSummary(t, dir); s.Status != reports.StatusFail {
		t.Errorf("summary status %s, want FAIL", s.Status)
	}
}
