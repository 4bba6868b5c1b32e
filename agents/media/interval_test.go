package media_test

import (
	"math"
	"testing"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
)

func TestIntervalDeltas(t *testing.T) {
	r := media.NewReceiver(media.PCMU)
	first := r.Interval(t0)
	if first.Packets != 0 || first.Expected != 0 || !math.IsNaN(first.DelayMeanMS) {
		t.Fatalf("empty interval %+v", first)
	}
	// Second one: 50 packets, 5 lost (10..14), none late.
	var ps []pkt
	for i := range 50 {
		if i < 10 || i > 14 {
			ps = append(ps, pkt{i, 0})
		}
	}
	observe(r, ps)
	a := r.Interval(t0.Add(ms(1000)))
	// Next second: 50 more, 2 late and 1 lost.
	ps = ps[:0]
	for i := 50; i < 100; i++ {
		switch i {
		case 60:
		case 70, 71:
			ps = append(ps, pkt{i, 100})
		default:
			ps = append(ps, pkt{i, 0})
		}
	}
	observe(r, ps)
	b := r.Interval(t0.Add(ms(2000)))
	c := r.Interval(t0.Add(ms(3000)))

	if !a.Start.Equal(t0) || !a.End.Equal(t0.Add(ms(1000))) || !b.Start.Equal(a.End) {
		t.Fatalf("interval times %v-%v, %v-%v", a.Start, a.End, b.Start, b.End)
	}
	tests := []struct {
		name                                    string
		iv                                      media.Interval
		packets, received, expected, lost, late int
		lossPct, effPct                         float64
	}{
		{"first second", a, 45, 45, 50, 5, 0, 10, 10},
		{"second second", b, 49, 49, 50, 1, 2, 2, 6},
		{"silence", c, 0, 0, 0, 0, 0, 0, 0},
	}
	for _, tc := range tests {
		iv := tc.iv
		if iv.Packets != tc.packets || iv.Received != tc.received || iv.Expected != tc.expected ||
			iv.Lost != tc.lost || iv.Late != tc.late || iv.LossPct != tc.lossPct || math.Abs(iv.EffectiveLossPct-tc.effPct) > 1e-9 {
			t.Errorf("%s: %+v", tc.name, iv)
		}
	}
	// Marks were sent 10 ms before nominal: 10 ms of delay, 110 for the late ones.
	if a.DelayCount != 44 || math.Abs(a.DelayMeanMS-10) > 1e-9 { // the first was sent before the first arrival
		t.Errorf("first second delay %v over %d", a.DelayMeanMS, a.DelayCount)
	}
	if b.DelayCount != 49 || b.DelayMaxMS != 110 || math.Abs(b.DelayMeanMS-(47*10+2*110)/49.0) > 1e-9 {
		t.Errorf("second second delay %v max %v over %d", b.DelayMeanMS, b.DelayMaxMS, b.DelayCount)
	}
	if !math.IsNaN(c.DelayMeanMS) || c.JitterMS != b.JitterMS || b.JitterMS == 0 {
		t.Errorf("silence: delay %v jitter %v (before %v)", c.DelayMeanMS, c.JitterMS, b.JitterMS)
	}
}

// An interval's MOS is the E-model's for its effective loss and mean
// delay (CONFORMANCE.md's pairs for G.711), a NaN delay counting as none.
func TestIntervalMOS(t *testing.T) {
	for _, tc := range []struct {
		name string
		iv   media.Interval
		want float64
	}{
		{"nothing received", media.Interval{Received: 0, DelayMeanMS: math.NaN()}, 0},
		{"clean", media.Interval{Received: 50, DelayMeanMS: math.NaN()}, 4.41},
		{"1% loss", media.Interval{Received: 99, EffectiveLossPct: 1, DelayMeanMS: 0}, 4.33},
		{"150 ms", media.Interval{Received: 50, DelayMeanMS: 150}, 4.33},
	} {
		if got := tc.iv.MOS(media.PCMU); math.Abs(got-tc.want) > 0.005 {
			t.Errorf("%s: MOS %.3f, want %.2f", tc.name, got, tc.want)
		}
	}
	if got := (media.Interval{Received: 50}).MOS(media.Codec{Name: "nocodec", ClockRate: 8000}); got != 0 {
		t.Errorf("a codec without an E-model entry: MOS %v, want 0", got)
	}
}
