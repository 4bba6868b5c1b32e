package scenarios

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestTargetSources(t *testing.T) {
	loop, err := ParseTarget("t.yaml", []byte("name: t\nsip: {ws: \"ws://127.0.0.1:5066/\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := loop.Sources(context.Background())
	if err != nil || s.Shared() {
		t.Fatalf("a loopback target: shared %v, %v; want an address per user", s != nil && s.Shared(), err)
	}
	a, _ := s.Next()
	b, _ := s.Next()
	if a == b || !a.IsLoopback() {
		t.Errorf("loopback users got %s and %s", a, b)
	}

	// A target elsewhere, with the machine's address to use named: users
	// share it. (127.0.0.1 is the one address every machine has.)
	remote, err := ParseTarget("t.yaml", []byte("name: t\nsip: {ws: \"ws://sbc.example.com:5066/\"}\nsources: [127.0.0.1]\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err = remote.Sources(context.Background())
	if err != nil || !s.Shared() {
		t.Fatalf("sources given: %v", err)
	}
	if a, _ := s.Next(); a.String() != "127.0.0.1" {
		t.Errorf("shared source %s, want 127.0.0.1", a)
	}
}

func TestBadSources(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"sources: [not-an-ip]\n", `t.yaml:3:1: sources[0]: "not-an-ip" is not an IP address`},
		{"sources: [192.0.2.77]\n", `sources[0]: 192.0.2.77 is not an address of this machine's interfaces`},
		{"sources: [0.0.0.0]\n", `sources[0]: want a unicast IP address of this machine`},
	}
	for _, c := range cases {
		_, err := ParseTarget("t.yaml", []byte("name: t\nsip: {ws: \"ws://127.0.0.1:5066/\"}\n"+c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %s", c.yaml, err, c.want)
		}
	}
}

// Emulated NATs live on loopback: against a target elsewhere the scenario
// is refused with the field named, not run into unreachable agents.
func TestNATNeedsALoopbackTarget(t *testing.T) {
	s, err := Parse("s.yaml", []byte(`name: s
populations:
  - {name: browsers, kind: webrtc, count: 2, nat: symmetric}
  - {name: phones, kind: sip, count: 2}
flows:
  - {name: f, from: browsers, to: phones, hold: 1s}
load: {calls: 1, concurrency: 1}
`))
	if err != nil {
		t.Fatal(err)
	}
	remote, err := ParseTarget("t.yaml", []byte("name: t\nsip: {ws: \"ws://sbc.example.com:5066/\", udp: \"sbc.example.com:5060\"}\nusers:\n  webrtc: {pattern: \"w{n}\", password: p}\n  sip: {pattern: \"d{n}\", password: p}\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = remote.Check(s)
	if err == nil || !strings.Contains(err.Error(), `s.yaml:3:`) || !strings.Contains(err.Error(), "populations[0].nat: emulated NATs need the target on this machine") {
		t.Fatalf("got %v", err)
	}
	if !errors.Is(err, ErrConflict) {
		t.Errorf("not ErrConflict: %v", err)
	}
}
