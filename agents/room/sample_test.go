package room

import (
	"math"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
)

// feed gives r one second of 20 ms PCMU packets from t0, leaving out the
// sequence numbers in lost.
func feed(r *media.Receiver, t0 time.Time, lost map[int]bool) {
	for i := range 50 {
		if lost[i] {
			continue
		}
		at := t0.Add(time.Duration(i) * 20 * time.Millisecond)
		r.Observe(&rtp.Packet{
			Header:  rtp.Header{SSRC: 7, SequenceNumber: uint16(100 + i), Timestamp: uint32(i) * 160},
			Payload: make([]byte, 160),
		}, at)
	}
}

func TestParticipantSample(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	newLink := func(peer string, st linkState, ended bool) *link {
		l := &link{peerID: peer, st: st, codec: media.PCMU, recv: media.NewReceiver(media.PCMU)}
		if ended {
			l.end = t0
		}
		return l
	}
	p := &Participant{session: "me", links: map[string]*link{
		"clean":   newLink("clean", linkUp, false),
		"lossy":   newLink("lossy", linkUp, false),
		"silent":  newLink("silent", linkUp, false),
		"setup":   newLink("setup", linkSetup, false),
		"failed":  newLink("failed", linkFailed, false),
		"stopped": newLink("stopped", linkUp, true),
	}}
	for name, l := range p.links {
		switch name {
		case "silent":
		case "lossy":
			feed(l.recv, t0, map[int]bool{10: true, 11: true, 12: true, 13: true, 14: true})
		default:
			feed(l.recv, t0, nil)
		}
	}
	if p.Session() != "me" {
		t.Errorf("Session() = %q", p.Session())
	}
	got := map[string]LegSample{}
	for _, s := range p.Sample(t0.Add(time.Second)) {
		got[s.Peer] = s
	}
	for _, c := range []struct {
		peer     string
		present  bool
		received int
		lossPct  float64
		mos      bool
	}{
		{"clean", true, 50, 0, true},
		{"lossy", true, 45, 10, true},
		{"silent", true, 0, 0, false},
		{"setup", false, 0, 0, false},   // not up yet: no media to read
		{"failed", false, 0, 0, false},  // never came up
		{"stopped", false, 0, 0, false}, // the participant left: not live any more
	} {
		s, ok := got[c.peer]
		if ok != c.present {
			t.Errorf("%s: sampled %v, want %v", c.peer, ok, c.present)
			continue
		}
		if !ok {
			continue
		}
		if s.Received != c.received || math.Abs(s.LossPct-c.lossPct) > 1e-9 || (s.MOS > 0) != c.mos {
			t.Errorf("%s: received %d loss %.2f%% MOS %.2f; want %d, %.2f%%, MOS %v", c.peer, s.Received, s.LossPct, s.MOS, c.received, c.lossPct, c.mos)
		}
	}
	if got["lossy"].MOS >= got["clean"].MOS {
		t.Errorf("MOS with 10%% loss %.2f, not below the clean leg's %.2f", got["lossy"].MOS, got["clean"].MOS)
	}
	// The next reading starts where this one ended: nothing new arrived.
	for _, s := range p.Sample(t0.Add(2 * time.Second)) {
		if s.Received != 0 || !s.Start.Equal(t0.Add(time.Second)) {
			t.Errorf("%s: second reading received %d from %v, want 0 from the first's end", s.Peer, s.Received, s.Start)
		}
	}
}
