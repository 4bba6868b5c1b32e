package media_test

import (
	"math"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/pion/rtp"
)

// pkt is one packet of a PCMU stream: sequence i (and timestamp i*160)
// arriving at i*20 ms + extra, sent sendDelay before its nominal time.
type pkt struct {
	i     int
	extra float64 // ms of transit on top of the nominal
}

func observe(r *media.Receiver, ps []pkt) {
	for _, p := range ps {
		nominal := t0.Add(ms(float64(20 * p.i)))
		payload := media.AppendPayload(nil, media.PCMU, media.Mark{Tag: 1, Counter: uint32(p.i), Sent: nominal.Add(-ms(10))})
		r.Observe(&rtp.Packet{
			Header:  rtp.Header{SSRC: 3, SequenceNumber: uint16(1000 + p.i), Timestamp: uint32(p.i) * 160},
			Payload: payload,
		}, nominal.Add(ms(p.extra)))
	}
}

func steady(from, to int, extra float64) []pkt {
	var ps []pkt
	for i := from; i < to; i++ {
		ps = append(ps, pkt{i, extra})
	}
	return ps
}

func TestJitterBufferModel(t *testing.T) {
	tests := []struct {
		name    string
		playout time.Duration
		ps      []pkt
		late    int
		resyncs int
	}{
		{"steady", media.DefaultPlayoutDelay, steady(0, 50, 0), 0, 0},
		{"jitter inside the buffer", media.DefaultPlayoutDelay, []pkt{{0, 0}, {1, 50}, {2, 10}, {3, 60}, {4, 0}}, 0, 0},
		{"two too late", media.DefaultPlayoutDelay, []pkt{{0, 0}, {1, 0}, {2, 61}, {3, 80}, {4, 0}, {5, 0}}, 2, 0},
		// The first packet came slowly; the next one lowers the anchor, and
		// 70 ms above it is late.
		{"anchor moves down", media.DefaultPlayoutDelay, []pkt{{0, 30}, {1, 0}, {2, 70}, {3, 50}}, 1, 0},
		{"reordered and late", media.DefaultPlayoutDelay, []pkt{{0, 0}, {2, 0}, {1, 90}, {3, 0}}, 1, 0},
		{"reordered in time", media.DefaultPlayoutDelay, []pkt{{0, 0}, {2, 0}, {1, 30}, {3, 0}}, 0, 0},
		{"a shorter buffer", 20 * time.Millisecond, []pkt{{0, 0}, {1, 25}, {2, 15}, {3, 40}}, 2, 0},
		{"model off", 0, []pkt{{0, 0}, {1, 500}, {2, 0}}, 0, 0},
		// A lasting 200 ms step: late for one second (packets 50 to 99,
		// arriving from 1.2 s to 2.18 s), then the buffer re-anchors at
		// packet 100 (2.2 s), and the step back down is on time.
		{"resync after a lasting step", media.DefaultPlayoutDelay,
			append(append(steady(0, 50, 0), steady(50, 150, 200)...), steady(150, 200, 0)...), 50, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := media.NewReceiver(media.PCMU, media.WithPlayoutDelay(tc.playout))
			observe(r, tc.ps)
			s := r.Stats()
			if s.Late != tc.late || s.Resyncs != tc.resyncs {
				t.Fatalf("late %d resyncs %d, want %d %d", s.Late, s.Resyncs, tc.late, tc.resyncs)
			}
			if s.Lost != 0 || s.EffectiveLost != tc.late {
				t.Fatalf("lost %d effective %d", s.Lost, s.EffectiveLost)
			}
			if want := float64(tc.late) / float64(s.Expected) * 100; math.Abs(s.EffectiveLossPct-want) > 1e-9 {
				t.Fatalf("effective loss %v%%, want %v%%", s.EffectiveLossPct, want)
			}
		})
	}
}

func TestEffectiveLossAddsNetworkLoss(t *testing.T) {
	r := media.NewReceiver(media.PCMU)
	// 10 expected, seq 4 lost, 6 and 8 too late.
	observe(r, []pkt{{0, 0}, {1, 0}, {2, 0}, {3, 0}, {5, 0}, {6, 100}, {7, 0}, {8, 61}, {9, 0}})
	s := r.Stats()
	if s.Expected != 10 || s.Lost != 1 || s.Late != 2 || s.EffectiveLost != 3 || s.LossPct != 10 || s.EffectiveLossPct != 30 {
		t.Fatalf("stats %+v", s)
	}
	d := s.Direction("x", 10, 1)
	if d.EffectiveLossPct != 30 || d.Late != 2 || d.LossPct != 10 {
		t.Fatalf("direction %+v", d)
	}
}

func TestDelayLeavesOutStartupHold(t *testing.T) {
	// A gateway held what was sent until 300 ms (packets 0 to 14), then
	// everything flows with 10 ms of transit: the held ones measure
	// set-up, not the path.
	r := media.NewReceiver(media.PCMU)
	for i := range 60 {
		sent := t0.Add(ms(float64(20 * i)))
		arrival := sent.Add(ms(10))
		if i < 15 {
			arrival = t0.Add(ms(300 + float64(i)*0.1))
		}
		payload := media.AppendPayload(nil, media.PCMU, media.Mark{Tag: 1, Counter: uint32(i), Sent: sent})
		r.Observe(&rtp.Packet{Header: rtp.Header{SSRC: 3, SequenceNumber: uint16(i), Timestamp: uint32(i) * 160}, Payload: payload}, arrival)
	}
	s := r.Stats()
	if s.StartupCount != 15 || s.DelayCount != 45 || math.Abs(s.DelayMeanMS-10) > 1e-9 {
		t.Fatalf("start-up %d, delay count %d mean %v", s.StartupCount, s.DelayCount, s.DelayMeanMS)
	}
	// Nothing else to go on: the start-up packets stand in.
	r = media.NewReceiver(media.PCMU)
	observe(r, []pkt{{0, 0}})
	if s := r.Stats(); s.DelayCount != 1 || s.DelayMeanMS != 10 || s.StartupCount != 1 {
		t.Fatalf("single packet: %+v", s)
	}
}
