package scenarios

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v4"

	"github.com/gauntlet-rtc/gauntlet/agents/room"
	"github.com/gauntlet-rtc/gauntlet/reports"
)

const roomsScenario = `name: r
populations:
  - {name: peers, kind: webrtc, count: 4, signaling: rooms}
  - {name: leaky, kind: webrtc, count: 2, signaling: rooms, ice_policy: all, nat: tcp-one-port}
flows:
  - {name: pairs, from: peers, to: peers, room_size: 2, hold: 1s}
  - {name: open, from: leaky, to: leaky, room_size: 2, hold: 1s}
load: {calls: 2, concurrency: 2}
`

func TestRoomsPopulation(t *testing.T) {
	s, err := Parse("r.yaml", []byte(roomsScenario))
	if err != nil {
		t.Fatal(err)
	}
	peers, _ := s.Population("peers")
	leaky, _ := s.Population("leaky")
	if !peers.Rooms() || peers.RoomICEPolicy() != ICEPolicyRelay || leaky.RoomICEPolicy() != ICEPolicyAll {
		t.Errorf("peers rooms %v policy %q, leaky policy %q", peers.Rooms(), peers.RoomICEPolicy(), leaky.RoomICEPolicy())
	}
	if f := s.Flows[0]; !f.IsRoom() || f.RoomSize != 2 || f.Hangup != HangupCaller {
		t.Errorf("room flow %+v", f)
	}
	if u := s.Units(); u != "rooms" {
		t.Errorf("units = %q, want rooms", u)
	}

	// A target without rooms: the scenario's signaling line says so; no
	// users entry or sip.ws is asked for.
	tg := testTarget(t)
	err = tg.Check(s)
	want := []string{
		`r.yaml:3:43: populations[0].signaling: room participants need a rooms service, and target t.yaml has no rooms section (rooms: {url: ...})`,
		`r.yaml:4:43: populations[1].signaling: room participants need a rooms service`,
		`r.yaml:4:78: populations[1].nat: behind a tcp-one-port firewall only the TURN TLS port is open: the rooms service cannot be reached`,
	}
	var errs *Errors
	if !errors.As(err, &errs) || len(errs.List) != len(want) {
		t.Fatalf("got %v, want %d errors", err, len(want))
	}
	for i, w := range want {
		if got := errs.List[i].Error(); !strings.HasPrefix(got, w) {
			t.Errorf("error %d = %s, want %s", i, got, w)
		}
	}
	if !errors.Is(err, ErrConflict) {
		t.Errorf("errors.Is(err, ErrConflict) = false: %v", err)
	}

	tg.Rooms = &RoomsTarget{URL: "http://127.0.0.1:7000"}
	s.Populations[1].NAT = ""
	if err := tg.Check(s); err != nil {
		t.Errorf("with a rooms section: %v", err)
	}
}

func TestRoomsFlowCodeBuilt(t *testing.T) {
	peers := NewPopulation("peers", KindWebRTC, 3)
	peers.Signaling = SignalingRooms
	s := &Scenario{
		Name:        "code",
		Populations: []Population{peers},
		Flows:       []Flow{{Name: "f", From: "peers", To: "peers", Weight: 1, Hold: FixedHold(1), Hangup: HangupCaller, RoomSize: 3}},
		Load:        LoadSpec{Calls: 1, Concurrency: 1},
		Timeouts:    DefaultTimeouts(),
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("valid: %v", err)
	}
	s.Flows[0].RoomSize = 4
	s.Populations[0].SRTPProfiles = []SRTPProfile{SRTPAES128CMHMACSHA132}
	err := s.Validate()
	want := []string{
		`populations[0].srtp_profiles: room participants offer the room agent's SRTP profiles`,
		`flows[0].room_size: a room of 4 needs 4 users of its own`,
	}
	var errs *Errors
	if !errors.As(err, &errs) || len(errs.List) != len(want) {
		t.Fatalf("got %v, want %d errors", err, len(want))
	}
	for i, w := range want {
		if got := errs.List[i].Error(); !strings.HasPrefix(got, w) {
			t.Errorf("error %d = %q, want prefix %q", i, got, w)
		}
	}
}

func TestLeaveOrder(t *testing.T) {
	for _, c := range []struct {
		n    int
		h    Hangup
		want []int
	}{
		{2, HangupCaller, []int{0, 1}},
		{2, HangupCallee, []int{1, 0}},
		{4, HangupCaller, []int{0, 1, 2, 3}},
		{4, HangupCallee, []int{1, 2, 3, 0}},
	} {
		if got := leaveOrder(c.n, c.h); !slices.Equal(got, c.want) {
			t.Errorf("leaveOrder(%d, %s) = %v, want %v", c.n, c.h, got, c.want)
		}
	}
}

func TestRoomsPlan(t *testing.T) {
	s, err := Load("testdata/plans/rooms.yaml")
	if err != nil {
		t.Fatal(err)
	}
	plan := Plan(s, 3)
	golden(t, "rooms-seed3", render(plan))
	for _, pc := range plan {
		if !pc.IsRoom() {
			continue
		}
		seen := map[Endpoint]bool{}
		for _, e := range pc.Participants {
			if seen[e] {
				t.Errorf("%s holds %s twice", pc.ID, e)
			}
			seen[e] = true
		}
		if pc.Caller != pc.Participants[0] || pc.Callee != pc.Participants[1] {
			t.Errorf("%s: caller %s callee %s, participants %v", pc.ID, pc.Caller, pc.Callee, pc.Participants)
		}
	}
}

func TestRoomsWarnings(t *testing.T) {
	s, err := Parse("w.yaml", []byte(`name: w
populations:
  - {name: peers, kind: webrtc, count: 7, signaling: rooms}
flows:
  - {name: trios, from: peers, to: peers, room_size: 3, hold: 1s}
load: {calls: 10, concurrency: 3}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := "w.yaml:6:19: load.concurrency: 3 rooms at once need more users than the populations have: they allow at most 2 at once"
	if w := s.Warnings(); len(w) != 1 || !strings.HasPrefix(w[0], want) {
		t.Errorf("Warnings() = %q, want one starting %q", w, want)
	}
	s.Load.Concurrency = 2
	if w := s.Warnings(); len(w) != 0 {
		t.Errorf("concurrency 2 of 7 users in rooms of 3: warnings %q", w)
	}
}

func TestRoomCause(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("creating the room: %w", context.Canceled), reports.CauseCanceled},
		{fmt.Errorf("participant 2 joining: %w", context.DeadlineExceeded), reports.CauseTimeout},
		{fmt.Errorf("creating the room: %w: dial", room.ErrUnreachable), reports.CauseUnreachable},
		{&room.StatusError{Op: "create", Status: 429}, reports.CauseSignaling},
	} {
		if got := roomCause(c.err); got != c.want {
			t.Errorf("roomCause(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestNotJoined(t *testing.T) {
	pc := PlannedCall{ID: "room-000003", Participants: []Endpoint{{Population: "peers", Index: 4}, {Population: "peers", Index: 5}, {Population: "peers", Index: 0}}}
	out := notJoined(pc, time.Now(), "", 1, reports.CauseTimeout, errors.New("did not join"))
	if len(out) != 2 {
		t.Fatalf("%d records, want 2 (from the second participant)", len(out))
	}
	for i, r := range out {
		want := "room-000003/" + pc.Participants[i+1].String()
		if r.Kind != reports.KindRoom || r.ID != want || r.Room == nil || r.Room.ID != "room-000003" || r.Room.Size != 3 ||
			r.Outcome != reports.OutcomeFailed || r.Cause != reports.CauseTimeout || r.Population != "peers" {
			t.Errorf("record %d = %+v (room %+v), want ID %s, room room-000003 of 3, failed by timeout", i, r, r.Room, want)
		}
	}
}

func TestRelayedMedia(t *testing.T) {
	rtp := append([]byte{0x80, 0x00, 0x00, 0x01, 0, 0, 0, 160, 0, 0, 0, 7}, make([]byte, 160)...)
	rtcp := []byte{0x80, 200, 0x00, 0x06, 0, 0, 0, 7, 0, 0, 0, 0}
	dtls := []byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	channel := func(payload []byte) []byte {
		b := []byte{0x40, 0x01, byte(len(payload) >> 8), byte(len(payload))}
		return append(b, payload...)
	}
	indication := func(method stun.Method, payload []byte) []byte {
		m, err := stun.Build(stun.TransactionID, stun.NewType(method, stun.ClassIndication), stun.RawAttribute{Type: stun.AttrData, Value: payload})
		if err != nil {
			t.Fatal(err)
		}
		return m.Raw
	}
	binding, err := stun.Build(stun.TransactionID, stun.BindingRequest)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"rtp", rtp, true},
		{"rtcp", rtcp, true},
		{"dtls", dtls, false},
		{"channel data with rtp", channel(rtp), true},
		{"channel data with rtcp", channel(rtcp), true},
		{"channel data with dtls", channel(dtls), false},
		{"channel data cut short", channel(rtp)[:40], false},
		{"send indication with rtp", indication(stun.MethodSend, rtp), true},
		{"data indication with rtp", indication(stun.MethodData, rtp), true},
		{"data indication with dtls", indication(stun.MethodData, dtls), false},
		{"binding request", binding.Raw, false},
	} {
		if got := relayedMedia(c.b); got != c.want {
			t.Errorf("%s: relayedMedia = %v, want %v", c.name, got, c.want)
		}
	}
}
