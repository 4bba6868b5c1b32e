package peer

import (
	"encoding/binary"
	"testing"
	"time"
)

func rtpHeader(seq uint16) []byte {
	b := make([]byte, 20)
	b[0], b[1] = 0x80, 111
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[8:], 0xabc)
	return b
}

func TestArrivals(t *testing.T) {
	var a arrivals
	t0 := time.Unix(1700000000, 0)
	now := t0.Add(time.Second)
	a.record(rtpHeader(1), t0)
	a.record(rtpHeader(2), t0.Add(time.Millisecond))
	a.record(rtpHeader(2), t0.Add(2*time.Millisecond)) // a duplicate
	a.record([]byte{0x16, 0xfe, 0xfd}, t0)             // DTLS: not remembered
	tests := []struct {
		name string
		b    []byte
		want time.Time
	}{
		{"seen", rtpHeader(1), t0},
		{"claimed already", rtpHeader(1), now},
		{"first copy", rtpHeader(2), t0.Add(time.Millisecond)},
		{"second copy", rtpHeader(2), t0.Add(2 * time.Millisecond)},
		{"never seen", rtpHeader(3), now},
		{"RTCP", []byte{0x80, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0}, now},
	}
	for _, tc := range tests {
		if got := a.at(tc.b, now); !got.Equal(tc.want) {
			t.Errorf("%s: at %v, want %v", tc.name, got.Sub(t0), tc.want.Sub(t0))
		}
	}
	// The ring forgets the oldest.
	for i := range arrivalRing + 1 {
		a.record(rtpHeader(uint16(100+i)), t0.Add(time.Duration(i)))
	}
	if got := a.at(rtpHeader(100), now); !got.Equal(now) {
		t.Errorf("the oldest was kept: %v", got)
	}
	if got := a.at(rtpHeader(101), now); !got.Equal(t0.Add(1)) {
		t.Errorf("the second oldest was lost: %v", got)
	}
}
