package main

import (
	"fmt"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestRunEmbeddedWritesReportsAndLeavesNoGoroutine(t *testing.T) {
	before := goleak.IgnoreCurrent()
	dir := t.TempDir()
	code, stdout, stderr := runCLI(t, testContext(t, time.Minute), "run", "testdata/quick.yaml", "--out", dir)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	assertReports(t, dir)
	s := readSummary(t, dir)
	if s.Calls.Attempted != 2 || s.Calls.Connected != 2 || s.Media.OneWayAudio != 0 {
		t.Errorf("calls %+v one-way %d, want 2 attempted and connected, no one-way audio", s.Calls, s.Media.OneWayAudio)
	}
	if s.Run.Seed != 7 {
		t.Errorf("seed %d in summary, want the scenario's 7", s.Run.Seed)
	}
	for _, r := range callRecords(t, dir) {
		if r.Security.CipherSuite == "" || r.Security.SRTPProfile == "" {
			t.Errorf("%s: no cipher suite or SRTP profile in the record: %+v", r.ID, r.Security)
		}
	}
	if err := goleak.Find(before); err != nil {
		t.Errorf("goroutines left after the run:\n%v", err)
	}
}

// The leak check above must be able to fail: a goroutine left behind is found.
func TestLeakCheckCatchesALeftGoroutine(t *testing.T) {
	before := goleak.IgnoreCurrent()
	release := make(chan struct{})
	go func() { <-release }()
	err := goleak.Find(before)
	close(release)
	if err == nil {
		t.Fatal("a deliberately leaked goroutine was not found")
	}
}

func TestInvalidScenarioExits2WithFileLineAndField(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown field", "name: x\npopulations:\n  - {name: b, kind: webrtc, count: 1, colour: red}\n", ":3:"},
		{"wrong type", "name: x\nload:\n  calls: many\n", ":3:"},
		{"negative count", "name: x\npopulations:\n  - name: b\n    kind: webrtc\n    count: -3\n", ":5:"},
	}
	fields := map[string]string{"unknown field": "colour", "wrong type": "load.calls", "negative count": "populations[0].count"}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "bad.yaml", tc.yaml)
			code, _, stderr := runCLI(t, testContext(t, 10*time.Second), "run", path, "--out", t.TempDir())
			if code != exitInvalid {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitInvalid, stderr)
			}
			if !contains(stderr, path+tc.want, fields[tc.name]) {
				t.Errorf("stderr does not name %s%s and %s:\n%s", path, tc.want, fields[tc.name], stderr)
			}
		})
	}
}

func TestUnreachableTargetExits3NamingTheAddress(t *testing.T) {
	ws, udp := closedTCPPort(t), closedUDPPort(t)
	target := writeFile(t, "target.yaml", fmt.Sprintf(`name: nothing-there
sip:
  domain: gauntlet.test
  ws: ws://%s/
  udp: %s
users:
  webrtc: {pattern: "web{n}", start: 1000}
  sip: {pattern: "desk{n}", start: 2000}
`, ws, udp))
	dir := t.TempDir()
	code, _, stderr := runCLI(t, testContext(t, time.Minute), "run", "testdata/quick.yaml", "--target", target, "--out", dir)
	if code != exitUnreachable {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitUnreachable, stderr)
	}
	if !contains(stderr, ws) && !contains(stderr, udp) {
		t.Errorf("stderr names neither %s nor %s:\n%s", ws, udp, stderr)
	}
	assertReports(t, dir)
	if s := readSummary(t, dir); s.Registrations.Failed == 0 {
		t.Errorf("no failed registration recorded: %+v", s.Registrations)
	}
}

// closedTCPPort returns a loopback address where nothing listens.
func closedTCPPort(t *testing.T) string {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func closedUDPPort(t *testing.T) string {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	_ = c.Close()
	return addr
}
