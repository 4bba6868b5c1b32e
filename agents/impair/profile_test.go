package impair_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/impair"
)

func TestProfileValidate(t *testing.T) {
	ms := time.Millisecond
	ge := &impair.GilbertElliott{P: 0.01, R: 0.3, LossBad: 1}
	tests := []struct {
		name string
		p    impair.Profile
		ok   bool
	}{
		{"zero", impair.Profile{}, true},
		{"everything", impair.Profile{Loss: 0.1, Delay: 100 * ms, Jitter: 20 * ms, Reorder: 0.01, ReorderGap: 40 * ms,
			Duplicate: 0.01, RateBPS: 64000, QueueLimit: 200 * ms}, true},
		{"burst", impair.Profile{Burst: ge}, true},
		{"loss above 1", impair.Profile{Loss: 1.5}, false},
		{"negative loss", impair.Profile{Loss: -0.1}, false},
		{"NaN duplicate", impair.Profile{Duplicate: math.NaN()}, false},
		{"loss and burst", impair.Profile{Loss: 0.1, Burst: ge}, false},
		{"negative delay", impair.Profile{Delay: -ms}, false},
		{"jitter above delay", impair.Profile{Delay: 10 * ms, Jitter: 11 * ms}, false},
		{"reorder without gap", impair.Profile{Reorder: 0.1}, false},
		{"negative rate", impair.Profile{RateBPS: -1}, false},
		{"queue limit without rate", impair.Profile{QueueLimit: ms}, false},
		{"burst that never recovers", impair.Profile{Burst: &impair.GilbertElliott{P: 0.1, LossBad: 1}}, false},
		{"burst probability above 1", impair.Profile{Burst: &impair.GilbertElliott{P: 2, R: 0.5}}, false},
	}
	for _, tc := range tests {
		err := tc.p.Validate()
		if tc.ok != (err == nil) {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, impair.ErrProfile) {
			t.Errorf("%s: %v does not wrap ErrProfile", tc.name, err)
		}
	}
}

func TestBurstLoss(t *testing.T) {
	tests := []struct {
		loss, burst float64
		p, r, ratio float64
	}{
		{0.01, 1, 0.01 / 0.99, 1, 1 / (1 + 0.01/0.99)},
		{0.05, 3, 0.05 / 3 / 0.95, 1.0 / 3, 1 / (1.0/3 + 0.05/3/0.95)},
		// Random loss is the Gilbert model with mean burst 1/(1-loss): BurstR 1.
		{0.2, 1.25, 0.2, 0.8, 1},
	}
	for _, tc := range tests {
		g, err := impair.BurstLoss(tc.loss, tc.burst)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(g.P-tc.p) > 1e-12 || math.Abs(g.R-tc.r) > 1e-12 || g.LossBad != 1 || g.LossGood != 0 {
			t.Errorf("BurstLoss(%v, %v) = %+v", tc.loss, tc.burst, g)
		}
		if math.Abs(g.LossRate()-tc.loss) > 1e-12 {
			t.Errorf("BurstLoss(%v, %v).LossRate() = %v", tc.loss, tc.burst, g.LossRate())
		}
		if math.Abs(g.BurstRatio()-tc.ratio) > 1e-12 {
			t.Errorf("BurstLoss(%v, %v).BurstRatio() = %v, want %v", tc.loss, tc.burst, g.BurstRatio(), tc.ratio)
		}
	}
	for _, bad := range [][2]float64{{0, 2}, {1, 2}, {0.1, 0.5}, {math.NaN(), 2}} {
		if _, err := impair.BurstLoss(bad[0], bad[1]); !errors.Is(err, impair.ErrProfile) {
			t.Errorf("BurstLoss(%v, %v): err %v", bad[0], bad[1], err)
		}
	}
}

func TestScheduleAt(t *testing.T) {
	s := impair.Schedule{
		Base: impair.Profile{Loss: 0.01},
		Steps: []impair.Step{
			{At: 30 * time.Second, For: 5 * time.Second, Profile: impair.Profile{Loss: 0.1}},
			{At: 40 * time.Second, Profile: impair.Profile{Delay: time.Second}},
			{At: 50 * time.Second, For: time.Second, Profile: impair.Profile{Loss: 0.5}},
		},
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		at   time.Duration
		want impair.Profile
	}{
		{0, s.Base},
		{30*time.Second - 1, s.Base},
		{30 * time.Second, s.Steps[0].Profile},
		{35*time.Second - 1, s.Steps[0].Profile},
		{35 * time.Second, s.Base},
		{40 * time.Second, s.Steps[1].Profile},
		{50 * time.Second, s.Steps[2].Profile},
		// The overriding step ends: the open-ended one applies again.
		{51 * time.Second, s.Steps[1].Profile},
		{time.Hour, s.Steps[1].Profile},
	}
	for _, tc := range tests {
		if got := s.At(tc.at); got != tc.want {
			t.Errorf("At(%v) = %+v, want %+v", tc.at, got, tc.want)
		}
	}
	bad := impair.Schedule{Steps: []impair.Step{{At: 2 * time.Second}, {At: time.Second}}}
	if err := bad.Validate(); !errors.Is(err, impair.ErrProfile) {
		t.Errorf("steps out of order: %v", err)
	}
	if (impair.Schedule{Steps: []impair.Step{{At: time.Second}}}).IsZero() != true || s.IsZero() {
		t.Error("IsZero wrong")
	}
}
