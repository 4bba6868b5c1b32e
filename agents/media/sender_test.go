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
