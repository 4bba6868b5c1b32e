package scenarios

import (
	"slices"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/nat"
)

func TestJoinSpreadPlan(t *testing.T) {
	s, err := Load("testdata/plans/rooms-spread.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := []time.Duration{s.Flows[0].JoinSpread, s.Flows[1].JoinSpread}; !slices.Equal(got, []time.Duration{2 * time.Second, 1500 * time.Millisecond}) {
		t.Fatalf("join_spread decoded as %v", got)
	}
	plan := Plan(s, 3)
	golden(t, "rooms-spread-seed3", render(plan))
	if again := Plan(s, 3); render(again) != render(plan) {
		t.Error("same seed, different join offsets")
	}
	other := render(Plan(s, 4))
	if other == render(plan) {
		t.Error("seeds 3 and 4 drew the same plan")
	}
	for _, pc := range plan {
		spread := s.Flows[0].JoinSpread
		if pc.Flow == "fours" {
			spread = s.Flows[1].JoinSpread
		}
		if len(pc.JoinAt) != len(pc.Participants) || pc.JoinAt[0] != 0 || !slices.IsSorted(pc.JoinAt) || pc.JoinAt[len(pc.JoinAt)-1] > spread {
			t.Errorf("%s: join offsets %v: want one per participant, the creator at 0, in order, within %s", pc.ID, pc.JoinAt, spread)
		}
	}

	// Without a spread the offsets are gone and every hold is as it was:
	// the offsets come from a stream of their own.
	for i := range s.Flows {
		s.Flows[i].JoinSpread = 0
	}
	for i, pc := range Plan(s, 3) {
		if pc.JoinAt != nil || pc.Hold != plan[i].Hold || !slices.Equal(pc.Participants, plan[i].Participants) {
			t.Errorf("%s without join_spread: offsets %v hold %s participants %v; with: hold %s participants %v",
				pc.ID, pc.JoinAt, pc.Hold, pc.Participants, plan[i].Hold, plan[i].Participants)
		}
	}
}

func TestJoinPlanDeadlines(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	const setup = 10 * time.Second
	for _, c := range []struct {
		name      string
		at        []time.Duration
		i         int
		due, dead time.Duration // from start
	}{
		{"back to back: the creator", nil, 0, 0, setup},
		{"back to back: the last of four", nil, 3, 0, setup},
		{"spread: the creator", []time.Duration{0, 700 * time.Millisecond, 1900 * time.Millisecond}, 0, 0, setup},
		{"spread: the second", []time.Duration{0, 700 * time.Millisecond, 1900 * time.Millisecond}, 1, 700 * time.Millisecond, setup + 700*time.Millisecond},
		{"spread: the last", []time.Duration{0, 700 * time.Millisecond, 1900 * time.Millisecond}, 2, 1900 * time.Millisecond, setup + 1900*time.Millisecond},
	} {
		j := joinPlan{start: start, at: c.at, setup: setup}
		if due, dead := j.due(c.i), j.deadline(c.i); !due.Equal(start.Add(c.due)) || !dead.Equal(start.Add(c.dead)) {
			t.Errorf("%s: due %v deadline %v, want %v and %v", c.name, due.Sub(start), dead.Sub(start), c.due, c.dead)
		}
	}
}

func TestRunLimitCountsJoinSpread(t *testing.T) {
	peers := NewPopulation("peers", KindWebRTC, 4)
	peers.Signaling = SignalingRooms
	s := &Scenario{
		Name:        "spread",
		Populations: []Population{peers},
		Flows:       []Flow{{Name: "f", From: "peers", To: "peers", Weight: 1, Hold: FixedHold(5 * time.Second), Hangup: HangupCaller, RoomSize: 4}},
		Load:        LoadSpec{Calls: 2, Concurrency: 1},
		Timeouts:    DefaultTimeouts(),
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	// register 5s + 2 waves * (setup 15s + hold 5s + teardown 5s).
	if limit, _ := s.RunLimit(); limit != 55*time.Second {
		t.Errorf("RunLimit without a spread = %s, want 55s", limit)
	}
	s.Flows[0].JoinSpread = 3 * time.Second
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if limit, _ := s.RunLimit(); limit != 61*time.Second {
		t.Errorf("RunLimit with a 3s spread = %s, want 61s (each wave 3s longer)", limit)
	}
}

func TestRoomExpectation(t *testing.T) {
	for _, c := range []struct {
		nat, policy string
		ok          bool
		want        string
	}{
		{"", "", false, ""},
		{"", ICEPolicyAll, false, ""},
		{"open", "", true, "relay"},
		{"symmetric", "", true, "relay"},
		{"port-restricted", ICEPolicyRelay, true, "relay"},
		{"udp-blocked", "", true, "relay"}, // TURN over TCP from the rooms service
		{"symmetric", ICEPolicyAll, false, ""},
	} {
		p := NewPopulation("peers", KindWebRTC, 2)
		p.Signaling, p.NAT, p.ICEPolicy = SignalingRooms, nat.Type(c.nat), c.policy
		got, ok := roomExpectation(p)
		if ok != c.ok || got.Expected != c.want || ok && (got.NAT != c.nat || got.PeerNAT != c.nat) {
			t.Errorf("nat %q policy %q: %+v, %v; want expected %q, %v, the population's NAT on both sides", c.nat, c.policy, got, ok, c.want, c.ok)
		}
	}
}
