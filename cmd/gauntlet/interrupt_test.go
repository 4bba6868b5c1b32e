package main

import (
	"bufio"
	"errors"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/reports"
)

var doneCalls = regexp.MustCompile(`(\d+) done`)

// startRun starts the built binary on a scenario and returns the command
// and a channel that yields once at least minDone calls have completed.
func startRun(t *testing.T, bin string, minDone int, args ...string) (*exec.Cmd, <-chan struct{}, <-chan error) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"run", "--progress", "100ms"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reached, exited := make(chan struct{}), make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			m := doneCalls.FindStringSubmatch(sc.Text())
			if n, _ := strconv.Atoi(append(m, "", "")[1]); !signalled && m != nil && n >= minDone {
				close(reached)
				signalled = true
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, reached, exited
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}

func waitFor(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("timed out after %s waiting for %s", d, what)
	}
}

// SIGINT half-way: exit 130 within 5 s, every report written with the calls
// measured so far.
func TestSIGINTStopsCleanlyAndWritesEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs calls")
	}
	bin, dir := buildBinary(t), t.TempDir()
	cmd, reached, exited := startRun(t, bin, 4, "testdata/long.yaml", "--out", dir)
	waitFor(t, reached, time.Minute, "4 calls to complete")
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("no exit within 10 s of SIGINT")
	}
	if took := time.Since(sent); took > 5*time.Second {
		t.Errorf("exit took %s after SIGINT, want <= 5 s", took)
	}
	if code := exitCode(err); code != exitInterrupted {
		t.Fatalf("exit code %d, want %d", code, exitInterrupted)
	}
	assertReports(t, dir)
	s := readSummary(t, dir)
	if !s.Run.Interrupted {
		t.Error("summary does not say the run was interrupted")
	}
	if s.Calls.Connected < 4 || s.Calls.Attempted >= 40 {
		t.Errorf("calls %+v: want the >= 4 measured before SIGINT, and not all 40", s.Calls)
	}
	if n := len(callRecords(t, dir)); n != s.Calls.Attempted {
		t.Errorf("results.jsonl has %d call records, summary says %d attempted", n, s.Calls.Attempted)
	}
}

// A target killed mid-run: every report is still written, and the calls
// after its death are failed with a cause.
func TestTargetKilledMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs calls")
	}
	bin, dir := buildBinary(t), t.TempDir()
	target, ref := startReferenceProcessCmd(t, bin)
	_, reached, exited := startRun(t, bin, 4, "testdata/long.yaml", "--target", target, "--out", dir)
	waitFor(t, reached, time.Minute, "4 calls to complete")
	if err := ref.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-exited:
	case <-time.After(2 * time.Minute):
		t.Fatal("the run did not end within 2 minutes of the target's death")
	}
	if code := exitCode(err); code != exitFailed {
		t.Errorf("exit code %d, want %d (thresholds fail)", code, exitFailed)
	}
	assertReports(t, dir)
	s := readSummary(t, dir)
	if s.Calls.Attempted != 40 || s.Calls.Failed == 0 || s.Calls.Connected < 4 {
		t.Errorf("calls %+v: want all 40 attempted, the first ones connected, the rest failed", s.Calls)
	}
	for _, g := range s.Failures {
		if g.Cause == "" {
			t.Errorf("a failure group has no cause: %+v", g)
		}
	}
	for _, r := range callRecords(t, dir) {
		if r.Outcome == reports.OutcomeFailed && r.Cause == "" {
			t.Errorf("%s failed without a cause: %s", r.ID, r.Error)
		}
	}
}
