package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/reports"
)

// buildBinary builds the gauntlet binary once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gauntlet")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startReferenceProcess runs `gauntlet reference` as its own process on
// free ports and returns the target file it wrote once it is listening.
func startReferenceProcess(t *testing.T, bin string) string {
	t.Helper()
	target, _ := startReferenceProcessCmd(t, bin)
	return target
}

// startReferenceProcessCmd is startReferenceProcess that also returns the
// process, for tests that kill it.
func startReferenceProcessCmd(t *testing.T, bin string) (string, *exec.Cmd) {
	t.Helper()
	target := filepath.Join(t.TempDir(), "target.yaml")
	cmd := exec.Command(bin, "reference", "--ws", "127.0.0.1:0", "--udp", "127.0.0.1:0", "--print-target", target)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case err := <-exited:
			if err != nil && cmd.ProcessState != nil && !cmd.ProcessState.Exited() {
				return // killed on purpose by the test
			}
			if err != nil {
				t.Errorf("reference process after SIGINT: %v", err)
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("reference process did not stop within 10 s of SIGINT")
		}
	})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			if !signalled && strings.Contains(sc.Text(), "running until interrupted") {
				close(ready)
				signalled = true
			}
		}
		if !signalled {
			close(ready)
		}
		exited <- cmd.Wait()
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("reference process did not come up within 30 s")
	}
	if _, err := os.Stat(target); err != nil {
		t.Fatalf("reference process wrote no target file: %v", err)
	}
	return target, cmd
}

// A run against `gauntlet reference` in another process must measure what
// the embedded run measures: the target path is real, not in-process only.
func TestStandaloneReferenceMatchesEmbedded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the smoke scenario twice")
	}
	bin := buildBinary(t)
	target := startReferenceProcess(t, bin)
	ctx := testContext(t, 2*time.Minute)

	remote, embedded := t.TempDir(), t.TempDir()
	scenario := filepath.Join("..", "..", "scenarios", "smoke.yaml")
	if code, out, errs := runCLI(t, ctx, "run", scenario, "--target", target, "--seed", "11", "--out", remote); code != exitOK {
		t.Fatalf("run --target: exit %d\n%s\n%s", code, out, errs)
	}
	if code, out, errs := runCLI(t, ctx, "run", scenario, "--seed", "11", "--out", embedded); code != exitOK {
		t.Fatalf("embedded run: exit %d\n%s\n%s", code, out, errs)
	}
	a, b := readSummary(t, remote), readSummary(t, embedded)
	if a.Calls != b.Calls || a.Calls.Connected < 10 {
		t.Errorf("calls differ or too few: --target %+v, embedded %+v", a.Calls, b.Calls)
	}
	if a.Media.OneWayAudio != b.Media.OneWayAudio {
		t.Errorf("one-way audio differs: --target %d, embedded %d", a.Media.OneWayAudio, b.Media.OneWayAudio)
	}
	for name, pick := range map[string]func(*reports.Summary) map[string]int{
		"codec":        func(s *reports.Summary) map[string]int { return s.Negotiated.Codec },
		"dtls_version": func(s *reports.Summary) map[string]int { return s.Negotiated.DTLSVersion },
		"cipher_suite": func(s *reports.Summary) map[string]int { return s.Negotiated.CipherSuite },
		"srtp_profile": func(s *reports.Summary) map[string]int { return s.Negotiated.SRTPProfile },
	} {
		if x, y := mustJSON(pick(a)), mustJSON(pick(b)); x != y {
			t.Errorf("negotiated %s differs: --target %s, embedded %s", name, x, y)
		}
	}
}

// A bad reference config is refused before anything listens, naming the
// file, line and field, with the exit code for invalid input.
func TestReferenceConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "ref.yaml")
	if err := os.WriteFile(bad, []byte("gateway:\n  rate_limit:\n    max_calls: 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runCLI(t, testContext(t, 10*time.Second), "reference", "--config", bad)
	if code != exitInvalid || !strings.Contains(errs, "ref.yaml:3: gateway.rate_limit.max_calls") {
		t.Fatalf("exit %d, stderr %q; want %d naming ref.yaml:3: gateway.rate_limit.max_calls", code, errs, exitInvalid)
	}
	code, _, errs = runCLI(t, testContext(t, 10*time.Second), "reference", "--weaken", "everything")
	if code != exitInvalid || !strings.Contains(errs, "weaken") {
		t.Fatalf("exit %d, stderr %q; want %d naming weaken", code, errs, exitInvalid)
	}
}
