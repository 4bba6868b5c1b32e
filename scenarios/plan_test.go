package scenarios

import (
	"flag"
	"fmt"
	"github.com/gauntlet-rtc/gauntlet/agents/nat"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/plans/name.golden, or rewrites it
// with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "plans", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("plan differs from %s (go test -update rewrites it):\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

func render(calls []PlannedCall) string {
	var b strings.Builder
	for _, c := range calls {
		b.WriteString(c.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func TestPlanGolden(t *testing.T) {
	for _, c := range []struct {
		name, file string
		seed       int64
	}{
		{"smoke-seed42", "smoke.yaml", 42},
		{"mixed-seed7", "testdata/plans/mixed.yaml", 7},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := Load(c.file)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, c.name, render(Plan(s, c.seed)))
		})
	}
}

func TestPlanDeterministic(t *testing.T) {
	s, err := Load("load-1000.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, b := Plan(s, 1), Plan(s, 1)
	if len(a) != 1000 || render(a) != render(b) {
		t.Fatalf("same seed, different plans (or not 1000 calls: %d)", len(a))
	}
	c := Plan(s, 2)
	differ := 0
	for i := range a {
		if a[i].Hold != c[i].Hold {
			differ++
		}
		if a[i].Flow != c[i].Flow || a[i].Caller != c[i].Caller || a[i].Callee != c[i].Callee {
			t.Fatalf("call %d: who calls whom should not depend on the seed: %s vs %s", i, a[i], c[i])
		}
	}
	if differ < 900 {
		t.Errorf("seeds 1 and 2 gave the same hold for %d of 1000 calls", 1000-differ)
	}
}

func TestPlanProperties(t *testing.T) {
	s, err := Load("load-1000.yaml")
	if err != nil {
		t.Fatal(err)
	}
	calls := Plan(s, 99)
	flows := map[string]int{}
	uses := map[Endpoint]int{}
	minHold, maxHold := time.Hour, time.Duration(0)
	for i, c := range calls {
		if c.Seq != i || c.ID != fmt.Sprintf("call-%06d", i+1) {
			t.Fatalf("call %d has Seq %d ID %s", i, c.Seq, c.ID)
		}
		if c.Caller == c.Callee {
			t.Fatalf("%s calls itself", c)
		}
		if c.Caller.Kind != KindWebRTC {
			t.Fatalf("%s: caller is not webrtc", c)
		}
		if c.Hold%time.Millisecond != 0 || c.Hold < 15*time.Second || c.Hold > 25*time.Second {
			t.Fatalf("%s: hold outside [15s, 25s] or not whole ms", c)
		}
		flows[c.Flow]++
		uses[c.Caller]++
		uses[c.Callee]++
		minHold, maxHold = min(minHold, c.Hold), max(maxHold, c.Hold)
	}
	if flows["browser-to-phone"] != 800 || flows["browser-to-browser"] != 200 {
		t.Errorf("flow shares = %v, want 800:200 (weights 4:1)", flows)
	}
	// Round-robin: 1200 browser uses over 150 browsers, 800 phone uses over 120 phones.
	for e, n := range uses {
		want := 8
		if e.Population == "phones" {
			want = 6 // 800/120 = 6.67: each phone 6 or 7 times
		}
		if n < want || n > want+1 {
			t.Errorf("%s used %d times, want %d or %d", e, n, want, want+1)
		}
	}
	if maxHold-minHold < 9*time.Second {
		t.Errorf("holds span only %s..%s: not uniform over 15s..25s", minHold, maxHold)
	}
}

func TestPlanSkipsInvalid(t *testing.T) {
	s := &Scenario{
		Populations: []Population{NewPopulation("b", KindWebRTC, 1)},
		Flows:       []Flow{{Name: "f", From: "b", To: "missing", Weight: 1}},
		Load:        LoadSpec{Calls: 5},
	}
	if got := Plan(s, 1); got != nil {
		t.Errorf("a flow to a missing population planned %d calls", len(got))
	}
}

func TestWarnings(t *testing.T) {
	s, err := Load("smoke.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if w := s.Warnings(); len(w) != 0 {
		t.Errorf("smoke.yaml warns: %v", w)
	}
	s.Load.Calls, s.Load.Concurrency = 100, 50
	want := "smoke.yaml:25:3: load.concurrency: 50 calls at once need more users than the populations have: they allow at most 10 at once"
	if w := s.Warnings(); len(w) != 1 || !strings.HasPrefix(w[0], want) {
		t.Errorf("Warnings() = %q, want one starting %q", w, want)
	}
	s.Load.Calls = 10 // concurrency above calls never comes into play: no clamp
	if w := s.Warnings(); len(w) != 0 {
		t.Errorf("concurrency 50 for 10 calls warns: %v", w)
	}

	// An impaired population whose media can only go over TURN on TCP.
	s.Populations[0].Network = &Network{}
	if w := s.Warnings(); len(w) != 0 {
		t.Errorf("an impaired population on UDP warns: %v", w)
	}
	s.Populations[0].NAT = nat.UDPBlocked
	want = "populations[0].network: behind udp-blocked this population's media reaches the relay over TURN on TCP or TLS"
	if w := s.Warnings(); len(w) != 1 || !strings.Contains(w[0], want) {
		t.Errorf("Warnings() = %q, want one saying %q", w, want)
	}
}
