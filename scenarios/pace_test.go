package scenarios

import (
	"math"
	"testing"
	"time"
)

type paceCase struct {
	name    string
	elapsed time.Duration
	started uint64
	wait    time.Duration
	stop    bool
}

func checkPace(t *testing.T, p Pacer, cases []paceCase) {
	t.Helper()
	for _, c := range cases {
		wait, stop := p.Pace(c.elapsed, c.started)
		if wait != c.wait || stop != c.stop {
			t.Errorf("%s: Pace(%s, %d) = %s, %v; want %s, %v", c.name, c.elapsed, c.started, wait, stop, c.wait, c.stop)
		}
	}
}

func TestUnpaced(t *testing.T) {
	checkPace(t, Unpaced{}, []paceCase{
		{"start", 0, 0, 0, false},
		{"later", time.Hour, 1 << 40, 0, false},
	})
}

func TestConstantPacer(t *testing.T) {
	checkPace(t, ConstantPacer{Rate: PerSecond(5)}, []paceCase{
		{"first call at once", 0, 0, 0, false},
		{"second due at 200ms", 0, 1, 200 * time.Millisecond, false},
		{"second, 50ms in", 50 * time.Millisecond, 1, 150 * time.Millisecond, false},
		{"on time", 200 * time.Millisecond, 1, 0, false},
		{"behind: no wait", time.Second, 2, 0, false},
		{"ahead", time.Second, 10, time.Second, false},
	})
	checkPace(t, ConstantPacer{Rate: Rate{Freq: 30, Per: time.Minute}}, []paceCase{
		{"30/m is one every 2s", time.Second, 1, time.Second, false},
		{"first at once", 0, 0, 0, false},
	})
	checkPace(t, ConstantPacer{Rate: Rate{Freq: 3, Per: 7}}, []paceCase{
		{"n*Per/Freq truncated", 0, 2, 4, false}, // 2*7/3 = 4.67ns
		{"exact at 3", 0, 3, 7, false},
	})
	checkPace(t, ConstantPacer{Rate: Rate{Freq: 1, Per: time.Hour}}, []paceCase{
		{"overflow stops", 0, math.MaxUint64, 0, true},
	})
	checkPace(t, ConstantPacer{}, []paceCase{
		{"zero rate stops", 0, 0, 0, true},
	})
}

func TestLinearPacer(t *testing.T) {
	// 0 -> 4/s over 2s: calls due by t are t^2 (4 at 2s), then 4/s.
	up := LinearPacer{From: Rate{}, To: PerSecond(4), Over: 2 * time.Second}
	checkPace(t, up, []paceCase{
		{"first at once", 0, 0, 0, false},
		{"second at 1s", 0, 1, time.Second, false},
		{"third at sqrt(2)s", 0, 2, 1414213562, false},
		{"fifth at 2s, end of ramp", 500 * time.Millisecond, 4, 1500 * time.Millisecond, false},
		{"then 4/s", 2 * time.Second, 6, 500 * time.Millisecond, false},
		{"behind", 10 * time.Second, 6, 0, false},
	})
	// 4/s -> 0 over 2s: 4 calls in all, then none.
	down := LinearPacer{From: PerSecond(4), To: Rate{}, Over: 2 * time.Second}
	checkPace(t, down, []paceCase{
		{"first at once", 0, 0, 0, false},
		{"second", 0, 1, 267949192, false}, // 4t - t^2 = 1 -> t = 2 - sqrt(3)
		{"fourth at 1s", 0, 3, time.Second, false},
		{"fifth at 2s exactly", 0, 4, 2 * time.Second, false},
		{"ramp over at zero: stop", 0, 5, 0, true},
	})
	flat := LinearPacer{From: PerSecond(2), To: PerSecond(2), Over: time.Minute}
	checkPace(t, flat, []paceCase{
		{"flat ramp = constant", 0, 3, 1500 * time.Millisecond, false},
		{"past the ramp", 0, 121, 60500 * time.Millisecond, false},
	})
	checkPace(t, LinearPacer{To: PerSecond(10)}, []paceCase{
		{"no ramp time: To at once", 0, 5, 500 * time.Millisecond, false},
	})
	checkPace(t, LinearPacer{Over: time.Second}, []paceCase{
		{"0 -> 0: first at once", 0, 0, 0, false},
		{"0 -> 0: nothing more", 0, 1, 0, true},
	})
}

// A ramp's Due must agree with a constant pacer once the ramp is flat, and
// be increasing: that is what chaining stages will rely on.
func TestLinearPacerMonotonic(t *testing.T) {
	p := LinearPacer{From: PerSecond(1), To: PerSecond(50), Over: 30 * time.Second}
	prev := time.Duration(-1)
	for n := uint64(0); n < 2000; n++ {
		d, ok := p.Due(n)
		if !ok || d < prev {
			t.Fatalf("Due(%d) = %s, %v after %s", n, d, ok, prev)
		}
		prev = d
	}
}

func TestLimit(t *testing.T) {
	checkPace(t, Limit(ConstantPacer{Rate: PerSecond(10)}, 3), []paceCase{
		{"under the limit", 0, 2, 200 * time.Millisecond, false},
		{"at the limit", time.Hour, 3, 0, true},
		{"past it", time.Hour, 4, 0, true},
	})
	s := &Scenario{Load: LoadSpec{Calls: 2, Rate: PerSecond(1)}}
	checkPace(t, s.Pacer(), []paceCase{
		{"scenario: rate", 0, 1, time.Second, false},
		{"scenario: calls", 0, 2, 0, true},
	})
}

func TestRateSpan(t *testing.T) {
	cases := []struct {
		r    Rate
		n    uint64
		want time.Duration
	}{
		{Rate{}, 100, 0},
		{PerSecond(20), 1000, 49950 * time.Millisecond},
		{PerSecond(20), 1, 0},
		{Rate{Freq: 1, Per: time.Hour}, math.MaxUint64, math.MaxInt64},
	}
	for _, c := range cases {
		if got := c.r.Span(c.n); got != c.want {
			t.Errorf("%s.Span(%d) = %s, want %s", c.r, c.n, got, c.want)
		}
	}
}

func TestRunLimitSaturates(t *testing.T) {
	s := &Scenario{
		Flows:    []Flow{{Hold: FixedHold(math.MaxInt64 / 2)}},
		Load:     LoadSpec{Calls: MaxCalls, Concurrency: 1, Rate: Rate{Freq: 1, Per: time.Minute}},
		Timeouts: Timeouts{Setup: time.Hour, Register: time.Hour, Teardown: time.Hour},
	}
	if got, computed := s.RunLimit(); got != math.MaxInt64 || !computed {
		t.Errorf("RunLimit = %d, %v; want the longest Duration", got, computed)
	}
	s.Flows[0].Hold = FixedHold(time.Second)
	s.Load = LoadSpec{Calls: 7, Concurrency: 3}
	// 1h register + 3 waves * (1h + 1s + 1h), unpaced.
	if got, _ := s.RunLimit(); got != 7*time.Hour+3*time.Second {
		t.Errorf("RunLimit = %s, want 7h0m3s", got)
	}
}

func TestConcurrencyAt(t *testing.T) {
	ramp := LoadSpec{Stages: []Stage{
		{Duration: 10 * time.Second, Concurrency: 100},
		{Duration: 20 * time.Second, Concurrency: 100},
		{Duration: 10 * time.Second, Concurrency: 0},
	}}
	cases := []struct {
		load   LoadSpec
		at     time.Duration
		want   int
		wantOK bool
	}{
		{LoadSpec{Concurrency: 7}, time.Hour, 7, true},
		{ramp, 0, 0, true},
		{ramp, 5 * time.Second, 50, true},
		{ramp, 10 * time.Second, 100, true},
		{ramp, 25 * time.Second, 100, true},
		{ramp, 35 * time.Second, 50, true},
		{ramp, 39 * time.Second, 10, true},
		{ramp, 40 * time.Second, 0, false},
		{ramp, time.Hour, 0, false},
	}
	for _, tc := range cases {
		got, ok := tc.load.ConcurrencyAt(tc.at)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("ConcurrencyAt(%s) with %d stages = %d, %v; want %d, %v", tc.at, len(tc.load.Stages), got, ok, tc.want, tc.wantOK)
		}
	}
	if w := ramp.Window(); w != 40*time.Second {
		t.Errorf("Window = %s, want 40s", w)
	}
	if p := ramp.PeakConcurrency(); p != 100 {
		t.Errorf("PeakConcurrency = %d, want 100", p)
	}
}
