package media

import (
	"testing"
	"time"

	"github.com/pion/rtp"
)

// A tick the clock skipped leaves a timestamp gap, as a sampling clock
// would; sequence numbers stay contiguous (nothing was lost in the network).
func TestSenderTimestampsFollowTheSchedule(t *testing.T) {
	var got []rtp.Header
	s := NewSender(PCMU, func(p *rtp.Packet) error { got = append(got, p.Header); return nil })
	t0 := time.Unix(1000, 0)
	for _, at := range []time.Duration{0, 20, 40, 100, 120} {
		s.Tick(t0.Add(at * time.Millisecond))
	}
	if len(got) != 5 {
		t.Fatalf("%d packets, want 5", len(got))
	}
	wantFrames := []uint32{0, 1, 2, 5, 6}
	for i, h := range got {
		if ts := h.Timestamp - got[0].Timestamp; ts != wantFrames[i]*PCMU.FrameTicks {
			t.Errorf("packet %d: timestamp +%d, want +%d", i, ts, wantFrames[i]*PCMU.FrameTicks)
		}
		if seq := h.SequenceNumber - got[0].SequenceNumber; int(seq) != i {
			t.Errorf("packet %d: sequence +%d, want +%d", i, seq, i)
		}
	}
}

// A muted sender sends nothing; after it, sequence numbers go on where they
// stopped (nothing was lost), timestamps follow the clock, and the first
// packet carries the marker bit.
func TestSenderMuted(t *testing.T) {
	var got []rtp.Header
	s := NewSender(PCMU, func(p *rtp.Packet) error { got = append(got, p.Header); return nil })
	t0 := time.Unix(1000, 0)
	tick := func(ms int) { s.Tick(t0.Add(time.Duration(ms) * time.Millisecond)) }
	tick(0)
	tick(20)
	s.SetMuted(true)
	tick(40)
	tick(60)
	s.SetMuted(false)
	tick(80)
	tick(100)
	if len(got) != 4 || s.Sent() != 4 {
		t.Fatalf("%d packets (Sent %d), want 4: none while muted", len(got), s.Sent())
	}
	for i, want := range []struct {
		seq, frames uint32
		marker      bool
	}{{0, 0, true}, {1, 1, false}, {2, 4, true}, {3, 5, false}} {
		h := got[i]
		if uint32(h.SequenceNumber-got[0].SequenceNumber) != want.seq || (h.Timestamp-got[0].Timestamp) != want.frames*PCMU.FrameTicks || h.Marker != want.marker {
			t.Errorf("packet %d: seq +%d ts +%d marker %v, want +%d, +%d frames, %v", i,
				h.SequenceNumber-got[0].SequenceNumber, h.Timestamp-got[0].Timestamp, h.Marker, want.seq, want.frames, want.marker)
		}
	}
}
