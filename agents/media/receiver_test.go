package media_test

import (
	"math"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/pion/rtp"
)

var t0 = time.Unix(1700000000, 0)

func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

type arrival struct {
	seq uint16
	ts  uint32
	at  time.Duration // after t0
}

func feed(r *media.Receiver, c media.Codec, tag uint64, as []arrival) {
	for i, a := range as {
		payload := media.AppendPayload(nil, c, media.Mark{Tag: tag, Counter: uint32(i), Sent: t0.Add(a.at - ms(30))})
		r.Observe(&rtp.Packet{Header: rtp.Header{SSRC: 7, SequenceNumber: a.seq, Timestamp: a.ts}, Payload: payload}, t0.Add(a.at))
	}
}

func TestReceiverSequenceAccounting(t *testing.T) {
	tests := []struct {
		name                     string
		seqs                     []uint16
		received, expected, lost int
	}{
		{"in order", []uint16{10, 11, 12, 13}, 4, 4, 0},
		{"one lost", []uint16{10, 11, 13}, 3, 4, 1},
		// RFC 3550 A.1: the extended sequence number carries the cycle.
		{"wraparound with reordering and a loss", []uint16{65533, 65534, 65535, 0, 2, 1, 4, 5}, 8, 9, 1},
		{"duplicate counts as received", []uint16{10, 11, 11, 12}, 4, 3, 0},
		{"late packet before the wrap", []uint16{65534, 0, 65535, 1}, 4, 4, 0},
		// A jump beyond MAX_DROPOUT is ignored once...
		{"single wild jump ignored", []uint16{100, 101, 5000, 102}, 3, 3, 0},
		// ...and two sequential packets after it resynchronise (A.1 restarts the counts).
		{"resync after restart", []uint16{100, 101, 20000, 20001, 20002}, 2, 2, 0},
		{"loss then wrap", []uint16{65000, 65100, 200}, 3, 737, 734},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := media.NewReceiver(media.PCMU)
			var as []arrival
			for i, s := range tc.seqs {
				as = append(as, arrival{seq: s, ts: uint32(i) * 160, at: ms(float64(20 * i))})
			}
			feed(r, media.PCMU, 1, as)
			s := r.Stats()
			if s.Received != tc.received || s.Expected != tc.expected || s.Lost != tc.lost {
				t.Fatalf("received %d expected %d lost %d; want %d %d %d", s.Received, s.Expected, s.Lost, tc.received, tc.expected, tc.lost)
			}
			wantPct := 0.0
			if tc.expected > 0 {
				wantPct = float64(tc.lost) / float64(tc.expected) * 100
			}
			if math.Abs(s.LossPct-wantPct) > 1e-9 {
				t.Fatalf("loss %.4f%%, want %.4f%%", s.LossPct, wantPct)
			}
		})
	}
}

func TestReceiverJitter(t *testing.T) {
	// PCMU, 160 ticks (20 ms) per packet. Arrivals 0, 20, 50, 60, 80 ms.
	// D (ticks) per RFC 3550 A.8: -, 0, 80, -80, 0.
	// J: 0, 0, 80/16 = 5, 5 + (80-5)/16 = 9.6875, 9.6875*15/16 = 9.08203125.
	// In ms: 9.08203125 / 8 = 1.13525390625.
	tests := []struct {
		name   string
		codec  media.Codec
		at     []float64
		wantMS float64
		gapMS  float64
	}{
		{"steady", media.PCMU, []float64{0, 20, 40, 60, 80}, 0, 20},
		{"one late packet", media.PCMU, []float64{0, 20, 50, 60, 80}, 1.13525390625, 30},
		// Opus: 960 ticks per 20 ms; same pattern in ms gives the same jitter in ms.
		{"one late packet opus", media.Opus, []float64{0, 20, 50, 60, 80}, 1.13525390625, 30},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := media.NewReceiver(tc.codec)
			var as []arrival
			for i, a := range tc.at {
				as = append(as, arrival{seq: uint16(i), ts: 4294967000 + uint32(i)*tc.codec.FrameTicks, at: ms(a)})
			}
			feed(r, tc.codec, 9, as)
			s := r.Stats()
			if math.Abs(s.JitterMS-tc.wantMS) > 1e-6 {
				t.Fatalf("jitter %.9f ms, want %.9f", s.JitterMS, tc.wantMS)
			}
			if s.LongestGap != ms(tc.gapMS) {
				t.Fatalf("longest gap %v, want %v ms", s.LongestGap, tc.gapMS)
			}
			if !s.FirstArrival.Equal(t0) || !s.LastArrival.Equal(t0.Add(ms(tc.at[len(tc.at)-1]))) {
				t.Fatalf("first %v last %v", s.FirstArrival, s.LastArrival)
			}
		})
	}
}

func TestReceiverDelayAndMatch(t *testing.T) {
	r := media.NewReceiver(media.Opus)
	var as []arrival
	for i := range 100 {
		as = append(as, arrival{seq: uint16(i), ts: uint32(i) * 960, at: ms(float64(20 * i))})
	}
	feed(r, media.Opus, 0xabc, as)
	// A foreign payload and a corrupted one: neither matches.
	r.Observe(&rtp.Packet{Header: rtp.Header{SSRC: 7, SequenceNumber: 100, Timestamp: 96000}, Payload: []byte("not ours")}, t0.Add(2*time.Second))
	bad := media.AppendPayload(nil, media.Opus, media.Mark{Tag: 0xabc, Counter: 101, Sent: t0.Add(2 * time.Second)})
	bad[50] ^= 0xff
	r.Observe(&rtp.Packet{Header: rtp.Header{SSRC: 7, SequenceNumber: 101, Timestamp: 96960}, Payload: bad}, t0.Add(2*time.Second+ms(40)))

	s := r.Stats()
	if s.Matched != 100 || s.Packets != 102 || len(s.Tags) != 1 || s.Tags[0] != 0xabc {
		t.Fatalf("matched %d packets %d tags %v", s.Matched, s.Packets, s.Tags)
	}
	// 100 packets at 30 ms, one at 40 ms; the first two were sent before
	// the first arrival, so they measure start-up, not delay.
	if math.Abs(s.DelayMeanMS-(30*98+40)/99.0) > 1e-9 || s.DelayMaxMS != 40 || s.DelayCount != 99 || s.StartupCount != 2 {
		t.Fatalf("delay mean %v max %v count %d start-up %d", s.DelayMeanMS, s.DelayMaxMS, s.DelayCount, s.StartupCount)
	}
	if math.Abs(s.DelayP50MS-30) > 30*0.025 || math.Abs(s.DelayP95MS-30) > 30*0.025 {
		t.Fatalf("delay p50 %v p95 %v, want about 30", s.DelayP50MS, s.DelayP95MS)
	}
	d := s.Direction("caller->callee", 102, 0xabc)
	if !d.Audio || d.Sent != 102 || d.Received != 102 || d.Method != "rtp-marks" || d.DelayMS != s.DelayMeanMS ||
		d.DelayMethod != reports.MethodMarks || d.LossMethod != reports.MethodRTP || d.JitterMethod != reports.MethodRTP ||
		d.DelayP95MS != s.DelayP95MS || d.PlayoutDelayMS != 60 {
		t.Fatalf("direction %+v", d)
	}
	if s.Direction("x", 1, 0xdef).Audio {
		t.Fatal("audio reported for a tag that never arrived")
	}
}

func TestReceiverNewSSRCAddsUp(t *testing.T) {
	r := media.NewReceiver(media.PCMU)
	for i, seq := range []uint16{10, 11, 13} {
		r.Observe(&rtp.Packet{Header: rtp.Header{SSRC: 1, SequenceNumber: seq, Timestamp: uint32(i) * 160}}, t0.Add(ms(float64(20*i))))
	}
	for i, seq := range []uint16{500, 501} {
		r.Observe(&rtp.Packet{Header: rtp.Header{SSRC: 2, SequenceNumber: seq, Timestamp: uint32(i) * 160}}, t0.Add(ms(float64(100+20*i))))
	}
	s := r.Stats()
	if s.Received != 5 || s.Expected != 6 || s.Lost != 1 {
		t.Fatalf("received %d expected %d lost %d, want 5 6 1", s.Received, s.Expected, s.Lost)
	}
}

func TestSenderFeedsReceiver(t *testing.T) {
	r := media.NewReceiver(media.PCMA)
	var last rtp.Header
	s := media.NewSender(media.PCMA, func(p *rtp.Packet) error {
		if last.SSRC != 0 && (p.SequenceNumber != last.SequenceNumber+1 || p.Timestamp != last.Timestamp+160) {
			t.Errorf("seq %d ts %d after %d %d", p.SequenceNumber, p.Timestamp, last.SequenceNumber, last.Timestamp)
		}
		last = p.Header
		r.Observe(p, time.Now())
		return nil
	})
	for range 50 {
		if err := s.SendAt(time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	st := r.Stats()
	if s.Sent() != 50 || st.Matched != 50 || st.Lost != 0 || st.Tags[0] != s.Tag() || last.SSRC != s.SSRC() || last.PayloadType != 8 {
		t.Fatalf("sent %d, stats %+v", s.Sent(), st)
	}
}
