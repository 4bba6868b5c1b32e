package media_test

import (
	"math"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

func TestRoundTripVector(t *testing.T) {
	// CONFORMANCE.md / RFC 3550 6.4.1: A 0xb7108000, LSR 0xb7052000,
	// DLSR 0x00054000 (5.250 s) give 6.125 s.
	tests := []struct {
		a, lsr, dlsr uint32
		want         time.Duration
	}{
		{0xb7108000, 0xb7052000, 0x00054000, 6125 * time.Millisecond},
		{0x00010000, 0x00008000, 0, 500 * time.Millisecond},
		// Across the 32-bit wrap of the middle bits.
		{0x00004000, 0xffff8000, 0x00002000, 625 * time.Millisecond},
		// Inconsistent (the report claims more delay than elapsed).
		{0x00010000, 0x00010000, 0x00000100, -time.Second / 256},
	}
	for _, tc := range tests {
		if got := media.RoundTrip(tc.a, tc.lsr, tc.dlsr); got != tc.want {
			t.Errorf("RoundTrip(%#x, %#x, %#x) = %v, want %v", tc.a, tc.lsr, tc.dlsr, got, tc.want)
		}
	}
}

func TestNTPTime(t *testing.T) {
	tests := []struct {
		t    time.Time
		want uint64
	}{
		{time.Unix(0, 0), 2208988800 << 32},
		{time.Unix(1, 500_000_000), (2208988801 << 32) | 0x80000000},
		{time.Unix(0, 250_000_000), (2208988800 << 32) | 0x40000000},
	}
	for _, tc := range tests {
		if got := media.NTPTime(tc.t); got != tc.want {
			t.Errorf("NTPTime(%v) = %#x, want %#x", tc.t, got, tc.want)
		}
	}
}

// wire marshals a compound packet and parses it back, as the network would.
func wire(t *testing.T, pkts []rtcp.Packet) []rtcp.Packet {
	t.Helper()
	b, err := rtcp.Marshal(pkts)
	if err != nil {
		t.Fatal(err)
	}
	out, err := rtcp.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRTCPExchange(t *testing.T) {
	a := media.NewRTCP(0xaaaa, "a@gauntlet", media.PCMU)
	b := media.NewRTCP(0xbbbb, "b@gauntlet", media.PCMU)
	const oneWay = 30 * time.Millisecond
	// A sends 100 packets across the sequence wrap; B loses 5 of them.
	lost := map[int]bool{10: true, 11: true, 12: true, 50: true, 90: true}
	for i := range 100 {
		h := rtp.Header{SSRC: 0xaaaa, SequenceNumber: uint16(65500 + i), Timestamp: uint32(i) * 160}
		sent := t0.Add(time.Duration(i) * 20 * time.Millisecond)
		a.OnSend(&h, 160, sent)
		if !lost[i] {
			b.OnReceive(&h, sent.Add(oneWay))
		}
	}
	tA := t0.Add(2 * time.Second)
	fromA := a.Report(tA)
	sr, ok := fromA[0].(*rtcp.SenderReport)
	if !ok || len(fromA) != 2 {
		t.Fatalf("A (a sender) reported %v", fromA)
	}
	if sr.SSRC != 0xaaaa || sr.PacketCount != 100 || sr.OctetCount != 16000 || len(sr.Reports) != 0 {
		t.Fatalf("SR %+v", sr)
	}
	// 99*160 at 1.98 s; 20 ms later is 160 more.
	if sr.RTPTime != 100*160 || sr.NTPTime != media.NTPTime(tA) {
		t.Fatalf("SR times: RTP %d NTP %#x", sr.RTPTime, sr.NTPTime)
	}
	if sdes, ok := fromA[1].(*rtcp.SourceDescription); !ok || sdes.Chunks[0].Items[0].Text != "a@gauntlet" {
		t.Fatalf("no CNAME: %v", fromA[1])
	}
	b.Handle(wire(t, fromA), tA.Add(oneWay))

	tB := tA.Add(oneWay + 200*time.Millisecond)
	fromB := b.Report(tB)
	rr, ok := fromB[0].(*rtcp.ReceiverReport)
	if !ok || len(rr.Reports) != 1 {
		t.Fatalf("B (not a sender) reported %v", fromB)
	}
	blk := rr.Reports[0]
	if blk.SSRC != 0xaaaa || blk.TotalLost != 5 || blk.FractionLost != 5*256/100 ||
		blk.LastSequenceNumber != 1<<16|uint32((65500+99)%65536) || blk.Jitter != 0 {
		t.Fatalf("block %+v", blk)
	}
	if blk.LastSenderReport != uint32(sr.NTPTime>>16) || blk.Delay != 200*65536/1000 {
		t.Fatalf("LSR %#x DLSR %#x", blk.LastSenderReport, blk.Delay)
	}
	a.Handle(wire(t, fromB), tB.Add(oneWay))

	st := a.Stats()
	if st.Reports != 1 || st.CumulativeLost != 5 || st.Expected != 100 || st.FractionLost != float64(5*256/100)/256 ||
		st.PacketsSent != 100 || st.ReportsSent != 1 || st.PacketsReceived != 1 {
		t.Fatalf("A's stats %+v", st)
	}
	// 2 x 30 ms, to the 1/65536 s of the NTP short format.
	if st.RTTCount != 1 || math.Abs(st.RTTMeanMS-60) > 0.05 || st.RTTLastMS != st.RTTMeanMS || st.RTTMaxMS != st.RTTMeanMS {
		t.Fatalf("RTT %+v", st)
	}
	if bs := b.Stats(); bs.RemoteSRs != 1 || bs.RemotePacketsSent != 100 || bs.RemoteOctetsSent != 16000 || bs.RTTCount != 0 {
		t.Fatalf("B's stats %+v", bs)
	}

	d := st.Direction("caller->callee")
	if d.Sent != 100 || d.Received != 95 || d.Lost != 5 || d.LossPct != 5 || d.EffectiveLossPct != 5 ||
		math.Abs(d.DelayMS-30) > 0.03 || d.RTTMS != st.RTTMeanMS || !d.Audio || d.Method != "rtcp" ||
		d.LossMethod != reports.MethodRTCP || d.JitterMethod != reports.MethodRTCP || d.DelayMethod != reports.MethodRTT {
		t.Fatalf("direction %+v", d)
	}
}

func TestRTCPBlockSignedLossAndInterval(t *testing.T) {
	b := media.NewRTCP(2, "b", media.Opus)
	// Duplicates make the cumulative loss negative.
	for _, seq := range []uint16{1, 2, 2, 3, 3} {
		b.OnReceive(&rtp.Header{SSRC: 1, SequenceNumber: seq}, t0)
	}
	blk := b.Report(t0)[0].(*rtcp.ReceiverReport).Reports[0]
	if blk.TotalLost != 0xFFFFFE || blk.FractionLost != 0 || blk.LastSenderReport != 0 || blk.Delay != 0 {
		t.Fatalf("block %+v", blk)
	}
	// The next interval: 10 expected, 4 received.
	for _, seq := range []uint16{4, 7, 10, 13} {
		b.OnReceive(&rtp.Header{SSRC: 1, SequenceNumber: seq}, t0)
	}
	blk = b.Report(t0)[0].(*rtcp.ReceiverReport).Reports[0]
	if blk.FractionLost != 6*256/10 || blk.TotalLost != 4 {
		t.Fatalf("block %+v", blk)
	}
	a := media.NewRTCP(1, "a", media.Opus)
	a.OnSend(&rtp.Header{SequenceNumber: 1}, 80, t0)
	a.Handle([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 2, Reports: []rtcp.ReceptionReport{{SSRC: 1, TotalLost: 0xFFFFFE, LastSequenceNumber: 3, Jitter: 480}}}}, t0)
	if st := a.Stats(); st.CumulativeLost != -2 || st.Expected != 3 || st.JitterMS != 10 || st.RTTCount != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRTCPAdoptsTheSentSSRC(t *testing.T) {
	s := media.NewRTCP(0, "x", media.PCMU)
	before := s.SSRC()
	if rr, ok := s.Report(t0)[0].(*rtcp.ReceiverReport); !ok || rr.SSRC != before || before == 0 {
		t.Fatalf("before sending: %v", s.Report(t0))
	}
	s.OnSend(&rtp.Header{SSRC: 77, SequenceNumber: 5}, 160, t0)
	if sr, ok := s.Report(t0)[0].(*rtcp.SenderReport); !ok || sr.SSRC != 77 || sr.PacketCount != 1 || s.SSRC() != 77 {
		t.Fatalf("after sending: %v", s.Report(t0))
	}
	// A fixed SSRC ignores the header's.
	f := media.NewRTCP(9, "y", media.PCMU)
	f.OnSend(&rtp.Header{SSRC: 77}, 160, t0)
	if sr := f.Report(t0)[0].(*rtcp.SenderReport); sr.SSRC != 9 {
		t.Fatalf("fixed SSRC reported as %d", sr.SSRC)
	}
}

func TestNextRTCPIsRandomised(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 100 {
		d := media.NextRTCP(time.Second)
		if d < 500*time.Millisecond || d >= 1500*time.Millisecond {
			t.Fatalf("NextRTCP = %v", d)
		}
		seen[d] = true
	}
	if len(seen) < 50 {
		t.Fatalf("only %d distinct waits", len(seen))
	}
}
