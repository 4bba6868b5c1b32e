package peer

import (
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

func TestReceiverEarlyReplayAndAuth(t *testing.T) {
	key, salt := make([]byte, 16), make([]byte, 14)
	for i := range key {
		key[i] = byte(i)
	}
	profile := srtp.ProtectionProfileAes128CmHmacSha1_80
	enc, err := srtp.CreateContext(key, salt, profile)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := srtp.CreateContext(key, salt, profile, srtp.SRTPReplayProtection(64))
	if err != nil {
		t.Fatal(err)
	}
	protect := func(seq uint16) []byte {
		p := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, SSRC: 5}, Payload: []byte{1, 2, 3, 4}}
		raw, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		out, err := enc.EncryptRTP(nil, raw, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	var got []uint16
	var stats legStats
	r := newReceiver(func(p *rtp.Packet, _ time.Time) { got = append(got, p.SequenceNumber) }, &stats)

	now := time.Now()
	r.handle(protect(1), now) // before the keys: kept
	r.handle(protect(2), now)
	if len(got) != 0 {
		t.Fatalf("delivered %v before the keys", got)
	}
	r.ready(dec)
	p3 := protect(3)
	r.handle(p3, now) // delivers 1, 2, then 3
	r.handle(p3, now) // replayed
	bad := protect(4)
	bad[len(bad)-1] ^= 1
	r.handle(bad, now) // tag does not verify
	r.handle(protect(5), now)

	if want := []uint16{1, 2, 3, 5}; len(got) != len(want) || got[0] != 1 || got[1] != 2 || got[2] != 3 || got[3] != 5 {
		t.Fatalf("delivered %v, want %v", got, want)
	}
	if stats.rtp != 4 || stats.authFailed != 1 || stats.otherDropped != 1 {
		t.Fatalf("stats rtp %d auth %d other %d, want 4 1 1", stats.rtp, stats.authFailed, stats.otherDropped)
	}
}
