package attack

import (
	"bytes"
	"encoding/binary"
	"net"
	"strings"
	"testing"

	"github.com/gauntlet-rtc/gauntlet/agents/socket"
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

// recordingPacketConn is a net.PacketConn that keeps what is written to it.
type recordingPacketConn struct {
	net.PacketConn
	writes [][]byte
}

func (s *recordingPacketConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	s.writes = append(s.writes, bytes.Clone(b))
	return len(b), nil
}

func (s *recordingPacketConn) LocalAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4000}
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

// wantPlan is what must go out for stream packet c, given the packets sent
// so far, with the injection points counted from base.
func wantPlan(c, base uint32, sent map[uint32][]byte) [][]byte {
	p := sent[c]
	if c < base {
		return [][]byte{p}
	}
	switch c - base {
	case srtpDupAt:
		return [][]byte{p, p}
	case srtpOldAt:
		return [][]byte{p, sent[base+srtpOldOf]}
	case srtpFlipAt:
		f := bytes.Clone(p)
		f[len(f)-1] ^= 1
		return [][]byte{f}
	case srtpCutAt:
		return [][]byte{p[:len(p)-srtpCut]}
	}
	return [][]byte{p}
}

func TestSRTPInjectorPlan(t *testing.T) {
	tests := []struct {
		name  string
		armAt uint32 // the stream packet before which the injector is armed; 0: from the start
	}{
		{"armed from the start (the browser)", 0},
		{"armed once the call is up (the phone)", 37},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &recordingConn{}
			w := newSRTPInjector(tc.armAt == 0)
			c := &injectConn{Conn: s, inj: w}
			dtls := []byte{22, 0xfe, 0xfd, 0, 0}
			if _, err := c.Write(dtls); err != nil {
				t.Fatal(err)
			}
			// A packet before the stream's first (marker) packet is not counted.
			if _, err := c.Write(srtpLike(100, false)); err != nil {
				t.Fatal(err)
			}
			const seq0 = 65500 // the counter must survive the sequence number wrapping
			sent := map[uint32][]byte{}
			for n := range tc.armAt + srtpCutAt + 5 {
				if n == tc.armAt && tc.armAt > 0 {
					w.arm()
				}
				p := srtpLike(uint16(seq0+n), n == 0)
				sent[n] = p
				before := len(s.writes)
				if _, err := c.Write(p); err != nil {
					t.Fatal(err)
				}
				got, want := s.writes[before:], wantPlan(n, tc.armAt, sent)
				if len(got) != len(want) {
					t.Fatalf("packet %d: %d datagrams out, want %d", n, len(got), len(want))
				}
				for i := range want {
					if !bytes.Equal(got[i], want[i]) {
						t.Fatalf("packet %d: datagram %d is %x, want %x", n, i, got[i], want[i])
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
			if got := w.at(srtpDupAt); got != tc.armAt+srtpDupAt {
				t.Errorf("at(dup) = %d, want %d", got, tc.armAt+srtpDupAt)
			}
			if sum := w.summary(); !strings.Contains(sum, "sent twice") || !strings.Contains(sum, "tag cut") {
				t.Fatalf("summary %q", sum)
			}
		})
	}
}

func TestSRTPInjectorUnarmedPassesEverything(t *testing.T) {
	s := &recordingPacketConn{}
	var observed [][]byte
	c := &injectPacketConn{PacketConn: s, inj: newSRTPInjector(false), observe: func(_ socket.Dir, _, _ net.Addr, b []byte) {
		observed = append(observed, bytes.Clone(b))
	}}
	sip := []byte("INVITE sip:1000@127.0.0.1 SIP/2.0\r\n\r\n")
	pkts := [][]byte{sip}
	for n := range uint32(srtpCutAt + 5) {
		pkts = append(pkts, srtpLike(uint16(n), n == 0))
	}
	for _, p := range pkts {
		if n, err := c.WriteTo(p, &net.UDPAddr{}); err != nil || n != len(p) {
			t.Fatalf("WriteTo = %d, %v", n, err)
		}
	}
	if len(s.writes) != len(pkts) || len(observed) != len(pkts) {
		t.Fatalf("%d datagrams out and %d observed, want %d", len(s.writes), len(observed), len(pkts))
	}
	for i := range pkts {
		if !bytes.Equal(s.writes[i], pkts[i]) || !bytes.Equal(observed[i], pkts[i]) {
			t.Fatalf("datagram %d changed", i)
		}
	}
}

func TestSRTPInjectorUnderAPhoneSocket(t *testing.T) {
	s := &recordingPacketConn{}
	var observed [][]byte
	w := newSRTPInjector(true)
	c := &injectPacketConn{PacketConn: s, inj: w, observe: func(_ socket.Dir, _, _ net.Addr, b []byte) {
		observed = append(observed, bytes.Clone(b))
	}}
	for n := range uint32(srtpDupAt + 1) {
		if _, err := c.WriteTo(srtpLike(uint16(n), n == 0), &net.UDPAddr{}); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.writes) != srtpDupAt+2 {
		t.Fatalf("%d datagrams out, want %d (the duplicate too)", len(s.writes), srtpDupAt+2)
	}
	if len(observed) != len(s.writes) {
		t.Fatalf("the capture saw %d datagrams of the %d that went out", len(observed), len(s.writes))
	}
}
