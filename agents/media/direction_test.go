package media_test

import (
	"math"
	"testing"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/reports"
)

func TestWithRTCP(t *testing.T) {
	rt := media.RTCPStats{RTTCount: 3, RTTMeanMS: 40}
	tests := []struct {
		name       string
		in         reports.Direction
		rtcp       media.RTCPStats
		delay, rtt float64
		method     string
	}{
		{"marks keep the delay", reports.Direction{DelayMS: 12, DelayMethod: reports.MethodMarks}, rt, 12, 40, reports.MethodMarks},
		{"no marks: half the round trip", reports.Direction{}, rt, 20, 40, reports.MethodRTT},
		{"no round trip: nothing changes", reports.Direction{}, media.RTCPStats{}, 0, 0, ""},
	}
	for _, tc := range tests {
		d := media.WithRTCP(tc.in, tc.rtcp)
		if d.DelayMS != tc.delay || d.RTTMS != tc.rtt || d.DelayMethod != tc.method {
			t.Errorf("%s: %+v", tc.name, d)
		}
	}
}

func TestMOSUsesEffectiveLossAndDelay(t *testing.T) {
	// CONFORMANCE.md reference pairs (G.711 with concealment).
	tests := []struct {
		name string
		c    media.Codec
		d    reports.Direction
		want float64
	}{
		{"clean", media.PCMU, reports.Direction{Received: 1}, 4.41},
		{"1% effective", media.PCMU, reports.Direction{Received: 1, LossPct: 0.5, EffectiveLossPct: 1}, 4.33},
		{"5% effective", media.PCMA, reports.Direction{Received: 1, EffectiveLossPct: 5}, 3.92},
		{"1% and 100 ms", media.PCMU, reports.Direction{Received: 1, EffectiveLossPct: 1, DelayMS: 100}, 4.26},
		{"nothing arrived", media.PCMU, reports.Direction{}, 0},
		{"unknown codec", media.Codec{Name: "G722", ClockRate: 8000}, reports.Direction{Received: 1}, 0},
	}
	for _, tc := range tests {
		if got := media.MOS(tc.c, tc.d); math.Abs(got-tc.want) > 0.005 {
			t.Errorf("%s: MOS %.3f, want %.2f", tc.name, got, tc.want)
		}
	}
}
