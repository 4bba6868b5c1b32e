package main

import (
	"strings"
	"testing"
	"time"
)

// gauntlet attack against the embedded reference: resisted hardened (exit
// 0), VULNERABLE with the matching defence off (exit 1), and the four
// reports written either way with the verdicts in summary.json.
func TestAttackVerdictsAndExitCodes(t *testing.T) {
	for _, c := range []struct {
		name   string
		args   []string
		code   int
		report string
	}{
		{"hardened", nil, exitOK, "resisted"},
		{"weakened", []string{"--weaken", "peer-deny"}, exitFailed, "VULNERABLE"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"attack", "--only", "turn-abuse", "--out", dir}, c.args...)
			code, stdout, stderr := runCLI(t, testContext(t, time.Minute), args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, stdout, stderr)
			}
			assertReports(t, dir)
			s := readSummary(t, dir)
			if len(s.Attacks) != 1 || s.Attacks[0].Name != "turn-abuse" || s.Attacks[0].Verdict != c.report {
				t.Fatalf("attacks in summary.json: %+v, want turn-abuse %s", s.Attacks, c.report)
			}
			if len(s.Thresholds) != 0 {
				t.Errorf("an attack run got thresholds %+v", s.Thresholds)
			}
			if !strings.Contains(stdout, "turn-abuse") {
				t.Errorf("the console does not name the attack:\n%s", stdout)
			}
		})
	}
}

func TestAttackRefusesBadInput(t *testing.T) {
	remote := writeFile(t, "remote.yaml", "name: remote\nsip:\n  udp: 192.0.2.10:5060\nusers:\n  sip: {pattern: \"d{n}\", password: x}\n")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown attack", []string{"--only", "sip-everything"}, "no attack named"},
		{"weaken with a target", []string{"--target", remote, "--weaken", "digest"}, "embedded reference only"},
		{"unauthorized remote target", []string{"--target", remote}, "authorized: true"},
		{"unknown weaken switch", []string{"--weaken", "all-of-it"}, "no defence named"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, testContext(t, 30*time.Second), append([]string{"attack"}, c.args...)...)
			if code != exitInvalid || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, want %d with %q in:\n%s", code, exitInvalid, c.want, stderr)
			}
		})
	}
}

// Attacks named in a scenario run beside its calls; their verdicts are in
// the reports of the run, beside the calls' figures.
func TestScenarioAttacksRunBesideTheLoad(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runCLI(t, testContext(t, time.Minute), "run", "testdata/quick-attack.yaml", "--out", dir)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	s := readSummary(t, dir)
	if s.Calls.Connected != s.Calls.Attempted || s.Calls.Attempted == 0 {
		t.Errorf("calls %+v", s.Calls)
	}
	if len(s.Attacks) != 1 || s.Attacks[0].Name != "turn-abuse" || s.Attacks[0].Verdict != "resisted" {
		t.Errorf("attacks %+v, want turn-abuse resisted", s.Attacks)
	}
}
