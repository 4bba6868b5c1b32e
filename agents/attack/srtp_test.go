package attack

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
)

// recordingConn is a net.Conn that keeps what is written to it.
type recordingConn struct {
	net.Conn
	writes [][]byte
}

func (s *recordingConn) Write(b []byte) (int, error) {
	s.writes = append(s.writes, bytes.Clone(b))
	return len(b), nil
}

// srtpLike is an SRTP-looking packet: RTP header, then bytes that stand
// for the encrypted payload and the tag.
func srtpLike(seq uint16, marker bool) []byte {
	b := make([]byte, 12, 42)
	b[0] = 0x80
	b[1] = 0 // PCMU
	if marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[8:], 0x1234)
	for i := range 30 {
		b = append(b, byte(seq)+byte(i))
	}
	return b
}

func TestSRTPInjectorPlan(t *testing.T) {
	s := &recordingConn{}
	w := &srtpInjector{Conn: s, done: make(chan struct{})}
	dtls := []byte{22, 0xfe, 0xfd, 0, 0}
	if _, err := w.Write(dtls); err != nil {
		t.Fatal(err)
	}
	// A packet before the stream's first (marker) packet is not counted.
	if _, err := w.Write(srtpLike(100, false)); err != nil {
		t.Fatal(err)
	}
	const seq0 = 65500 // the counter must survive the sequence number wrapping
	sent := map[uint32][]byte{}
	for c := range uint32(srtpCutAt + 5) {
		p := srtpLike(uint16(seq0+c), c == 0)
		sent[c] = p
		before := len(s.writes)
		if _, err := w.Write(p); err != nil {
			t.Fatal(err)
		}
		got := s.writes[before:]
		var want [][]byte
		switch c {
		case srtpDupAt:
			want = [][]byte{p, p}
		case srtpOldAt:
			want = [][]byte{p, sent[srtpOldOf]}
		case srtpFlipAt:
			f := bytes.Clone(p)
			f[len(f)-1] ^= 1
			want = [][]byte{f}
		case srtpCutAt:
			want = [][]byte{p[:len(p)-srtpCut]}
		default:
			want = [][]byte{p}
		}
		if len(got) != len(want) {
			t.Fatalf("packet %d: %d datagrams out, want %d", c, len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("packet %d: datagram %d is %x, want %x", c, i, got[i], want[i])
			}
		}
	}
	if !bytes.Equal(s.writes[0], dtls) || !bytes.Equal(s.writes[1], srtpLike(100, false)) {
		t.Fatal("DTLS and pre-stream packets must pass unchanged")
	}
	select {
	case <-w.done:
	default:
		t.Fatal("done not closed after the last injection")
	}
	if sum := w.summary(); !bytes.Contains([]byte(sum), []byte("sent twice")) || !bytes.Contains([]byte(sum), []byte("tag cut")) {
		t.Fatalf("summary %q", sum)
	}
}
