package gateway

import (
	"slices"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// TestInboundBlock feeds sequence numbers (arriving every 20 ms with
// timestamps 160 apart, PCMU) and checks the reception block RFC 3550 A.3
// gives for them.
func TestInboundBlock(t *testing.T) {
	seqs := func(from, to uint16, skip ...uint16) []uint16 {
		var out []uint16
		for s := from; ; s++ { // uint16: wraps past 65535
			if !slices.Contains(skip, s) {
				out = append(out, s)
			}
			if s == to {
				return out
			}
		}
	}
	for _, tc := range []struct {
		name      string
		seqs      []uint16
		ext       uint32
		lost      uint32 // 24-bit field
		fraction  uint8
		newSource bool // the last packet comes from another SSRC
	}{
		{name: "in order", seqs: seqs(100, 199), ext: 199},
		{name: "one in ten lost", seqs: seqs(0, 99, 9, 19, 29, 39, 49, 59, 69, 79, 89, 99)[:90], ext: 98, lost: 9, fraction: 9 * 256 / 99},
		{name: "wraps", seqs: seqs(65500, 35), ext: 1<<16 + 35},
		{name: "reordered is no loss", seqs: []uint16{1, 2, 4, 3, 5, 6}, ext: 6},
		{name: "a duplicate makes loss negative", seqs: []uint16{1, 2, 3, 3, 4}, ext: 4, lost: 0xffffff},
		{name: "a jump restarts the stream", seqs: []uint16{1, 2, 3, 40000, 40001}, ext: 40001},
		{name: "another SSRC restarts the stream", seqs: []uint16{1, 2, 3, 500, 501}, ext: 501, newSource: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in rtpInbound
			for i, s := range tc.seqs {
				ssrc := uint32(7)
				if tc.newSource && i >= 3 {
					ssrc = 8
				}
				in.add(&rtp.Header{SSRC: ssrc, SequenceNumber: s, Timestamp: uint32(s) * 160}, int64(s)*160)
			}
			b := in.block()
			if b.LastSequenceNumber != tc.ext || b.TotalLost != tc.lost || b.FractionLost != tc.fraction || b.Jitter != 0 {
				t.Fatalf("block: ext %d lost %#x fraction %d jitter %d; want ext %d lost %#x fraction %d jitter 0",
					b.LastSequenceNumber, b.TotalLost, b.FractionLost, b.Jitter, tc.ext, tc.lost, tc.fraction)
			}
			if b2 := in.block(); b2.FractionLost != 0 {
				t.Fatalf("a second block with nothing new says fraction %d, want 0 (it is per interval)", b2.FractionLost)
			}
		})
	}
}

// TestInboundJitter: arrivals alternately on time and 20 ms late, against
// timestamps 20 ms apart, converge on RFC 3550 A.8's jitter of 20 ms.
func TestInboundJitter(t *testing.T) {
	var in rtpInbound
	for i := range 400 {
		at := int64(i) * 160
		if i%2 == 1 {
			at += 160 // 20 ms late at 8 kHz
		}
		in.add(&rtp.Header{SSRC: 1, SequenceNumber: uint16(i), Timestamp: uint32(i) * 160}, at)
	}
	if got := in.block().Jitter; got < 155 || got > 160 {
		t.Fatalf("jitter %d timestamp units, want about 160 (|D| is 160 every packet)", got)
	}
}

// TestReportAndRoundTrip runs two ends' reports against each other: the
// gateway's block echoes the phone's SR, and the phone's block on the
// gateway's stream yields the round trip that was spent.
func TestReportAndRoundTrip(t *testing.T) {
	gw := newPhoneRTCP(0x1111, "gw@test")
	gw.setRate(8000)
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for i := range 50 {
		gw.sent(&rtp.Header{SSRC: 0x1111, SequenceNumber: uint16(i), Timestamp: uint32(i) * 160}, 160, t0.Add(time.Duration(i)*20*time.Millisecond))
		gw.received(&rtp.Header{SSRC: 0x2222, SequenceNumber: uint16(i), Timestamp: uint32(i) * 160}, t0.Add(time.Duration(i)*20*time.Millisecond))
	}
	// The phone's SR, which arrives 5 ms after it was sent.
	phoneSR := &rtcp.SenderReport{SSRC: 0x2222, NTPTime: ntpTime(t0.Add(time.Second))}
	if rtts := gw.handle([]rtcp.Packet{phoneSR}, t0.Add(time.Second+5*time.Millisecond)); len(rtts) != 0 {
		t.Fatalf("an SR with no block on our stream gave round trips %v", rtts)
	}
	now := t0.Add(time.Second + 105*time.Millisecond)
	pkts := gw.report(now, true)
	sr, ok := pkts[0].(*rtcp.SenderReport)
	if !ok || len(pkts) != 3 {
		t.Fatalf("report %v: want SR, SDES, BYE", pkts)
	}
	if sr.SSRC != 0x1111 || sr.PacketCount != 50 || sr.OctetCount != 50*160 || len(sr.Reports) != 1 {
		t.Fatalf("SR %+v: want ssrc 0x1111, 50 packets, 8000 octets, one block", sr)
	}
	if want := uint32(49*160 + (1105-980)*8); sr.RTPTime != want {
		t.Fatalf("SR RTP time %d, want %d (the last timestamp carried on to now)", sr.RTPTime, want)
	}
	b := sr.Reports[0]
	if b.SSRC != 0x2222 || b.LastSenderReport != uint32(phoneSR.NTPTime>>16) || b.Delay != 100*65536/1000 {
		t.Fatalf("block %+v: want the phone's SR echoed with a 100 ms delay since", b)
	}
	if sd, ok := pkts[1].(*rtcp.SourceDescription); !ok || sd.Chunks[0].Items[0].Text != "gw@test" {
		t.Fatalf("second packet %v: want SDES CNAME gw@test", pkts[1])
	}
	if bye, ok := pkts[2].(*rtcp.Goodbye); !ok || bye.Sources[0] != 0x1111 {
		t.Fatalf("third packet %v: want BYE for 0x1111", pkts[2])
	}

	// The phone answers with a block on our SR, held 30 ms at the phone,
	// arriving 42 ms after our SR left: the round trip is 12 ms.
	rr := &rtcp.ReceiverReport{SSRC: 0x2222, Reports: []rtcp.ReceptionReport{{
		SSRC: 0x1111, LastSenderReport: uint32(sr.NTPTime >> 16), Delay: 30 * 65536 / 1000,
	}}}
	rtts := gw.handle([]rtcp.Packet{rr}, now.Add(42*time.Millisecond))
	if len(rtts) != 1 || rtts[0] < 11*time.Millisecond || rtts[0] > 13*time.Millisecond {
		t.Fatalf("round trips %v, want one of 12 ms (to the 1/65536 s)", rtts)
	}
	// Our own report reflected back gives nothing.
	if rtts := gw.handle(pkts, now.Add(time.Millisecond)); len(rtts) != 0 {
		t.Fatalf("our own report reflected gave round trips %v", rtts)
	}
}

// TestReportBeforeSending: a leg that has sent nothing reports with an RR.
func TestReportBeforeSending(t *testing.T) {
	gw := newPhoneRTCP(5, "gw@test")
	pkts := gw.report(time.Now(), false)
	if rr, ok := pkts[0].(*rtcp.ReceiverReport); !ok || rr.SSRC != 5 || len(rr.Reports) != 0 || len(pkts) != 2 {
		t.Fatalf("report %v: want an RR of ssrc 5 with no block, then SDES", pkts)
	}
}

// TestRoundTripVector is RFC 3550 6.4.1's example: A 0xb7108000, LSR
// 0xb7052000, DLSR 0x00054000 give 6.125 s.
func TestRoundTripVector(t *testing.T) {
	if got := roundTrip(0xb7108000, 0xb7052000, 0x00054000); got != 6125*time.Millisecond {
		t.Fatalf("round trip %v, want 6.125s", got)
	}
}

func TestRTCPAttr(t *testing.T) {
	ip := []byte{127, 0, 0, 9}
	for v, want := range map[string]string{
		"53001":                   "127.0.0.9:53001",
		"53001 IN IP4 127.0.0.20": "127.0.0.20:53001",
		"53001 IN IP4 0.0.0.0":    "",
		"0":                       "",
		"port":                    "",
		"":                        "",
	} {
		got := rtcpAttr(v, ip)
		if (got == nil && want != "") || (got != nil && got.String() != want) {
			t.Errorf("a=rtcp:%s = %v, want %q", v, got, want)
		}
	}
}
