package media

import (
	"testing"
	"time"

	"github.com/pion/rtp"
)

// A hold is silence on purpose: it must not count as a gap, before the
// call resumes or at its end; silence outside it still does.
func TestPauseIsNoGap(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r := NewReceiver(PCMU)
	seq := uint16(0)
	send := func(at time.Duration) {
		r.Observe(&rtp.Packet{Header: rtp.Header{SSRC: 9, SequenceNumber: seq, Timestamp: uint32(at / time.Millisecond * 8)}, Payload: make([]byte, 160)}, t0.Add(at))
		seq++
	}
	for at := time.Duration(0); at <= time.Second; at += 20 * time.Millisecond {
		send(at)
	}
	r.Pause(t0.Add(time.Second + 5*time.Millisecond))
	if s := r.SilenceAt(t0.Add(3 * time.Second)); s > 10*time.Millisecond {
		t.Fatalf("silence during the pause: %v", s)
	}
	r.Resume(t0.Add(4 * time.Second))
	seq += 150 // what the far end sent while held, which the target did not forward
	send(4*time.Second + 50*time.Millisecond)
	if st := r.Stats(); st.Lost != 0 || st.Received != 52 {
		t.Fatalf("after the hold: %d received, %d lost; the held packets are no loss", st.Received, st.Lost)
	}
	if g := r.Stats().LongestGap; g < 50*time.Millisecond || g > 60*time.Millisecond {
		t.Fatalf("longest gap %v across a 3 s pause, want the 55 ms outside it", g)
	}
	// Silence with no pause counts in full, mid-call and at the end.
	send(6 * time.Second)
	if g := r.Stats().LongestGap; g < 1900*time.Millisecond {
		t.Fatalf("longest gap %v, want the 1.95 s silence", g)
	}
	if s := r.SilenceAt(t0.Add(7 * time.Second)); s != time.Second {
		t.Fatalf("trailing silence %v, want 1 s", s)
	}
}
