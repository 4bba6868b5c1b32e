package scenarios

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// Pacer decides when the next call starts. It is a pure function of the
// time since the run began and how many calls have started, so ramps and
// rates are data that tests check in tables without sleeping (as vegeta's
// Pacer). The runner asks before each call: wait that long (then ask
// again, or start), or stop placing calls.
type Pacer interface {
	Pace(elapsed time.Duration, started uint64) (wait time.Duration, stop bool)
}

// Rate is an arrival rate: Freq calls every Per. The zero Rate means
// unpaced.
type Rate struct {
	Freq int
	Per  time.Duration
}

// PerSecond returns a rate of n calls per second.
func PerSecond(n int) Rate { return Rate{Freq: n, Per: time.Second} }

// ParseRate parses "N/s" or "N/m" (N a whole number of calls >= 1). Its
// errors wrap ErrSyntax or ErrRange.
func ParseRate(s string) (Rate, error) {
	num, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Rate{}, valueErrorf(ErrSyntax, "bad rate %q: want N/s or N/m, e.g. 5/s", s)
	}
	var per time.Duration
	switch strings.TrimSpace(unit) {
	case "s":
		per = time.Second
	case "m":
		per = time.Minute
	default:
		return Rate{}, valueErrorf(ErrSyntax, "bad rate %q: the unit after / must be s or m, e.g. 5/s or 30/m", s)
	}
	num = strings.TrimSpace(num)
	n, err := strconv.Atoi(num)
	if err != nil {
		if f, ferr := strconv.ParseFloat(num, 64); ferr == nil && per == time.Second && f > 0 && f*60 == math.Trunc(f*60) {
			return Rate{}, valueErrorf(ErrSyntax, "bad rate %q: want a whole number of calls; write %d/m", s, int64(f*60))
		}
		return Rate{}, valueErrorf(ErrSyntax, "bad rate %q: want a whole number of calls before the /", s)
	}
	if n < 1 {
		return Rate{}, valueErrorf(ErrRange, "bad rate %q: must be at least 1 call per %s", s, unit)
	}
	return Rate{Freq: n, Per: per}, nil
}

// IsZero reports whether r is the zero (unpaced) Rate.
func (r Rate) IsZero() bool { return r == Rate{} }

// PerSecond returns the rate in calls per second.
func (r Rate) PerSecond() float64 {
	if r.Freq <= 0 || r.Per <= 0 {
		return 0
	}
	return float64(r.Freq) / r.Per.Seconds()
}

func (r Rate) String() string {
	switch {
	case r.IsZero():
		return "unpaced"
	case r.Per == time.Second:
		return fmt.Sprintf("%d/s", r.Freq)
	case r.Per == time.Minute:
		return fmt.Sprintf("%d/m", r.Freq)
	}
	return fmt.Sprintf("%d/%s", r.Freq, r.Per)
}

// Due returns when arrival n (0-based) is due at this rate: n*Per/Freq,
// computed exactly. ok is false for an invalid rate or when the time does
// not fit a Duration.
func (r Rate) Due(n uint64) (due time.Duration, ok bool) {
	if r.Freq <= 0 || r.Per <= 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(n, uint64(r.Per))
	if hi >= uint64(r.Freq) {
		return 0, false
	}
	q, _ := bits.Div64(hi, lo, uint64(r.Freq))
	if q > math.MaxInt64 {
		return 0, false
	}
	return time.Duration(q), true
}

// Span is when the last of n arrivals is due: zero for an unpaced rate or
// n <= 1, and the longest Duration when it does not fit one.
func (r Rate) Span(n uint64) time.Duration {
	if r.IsZero() || n <= 1 {
		return 0
	}
	d, ok := r.Due(n - 1)
	if !ok {
		return math.MaxInt64
	}
	return d
}

// Unpaced starts calls as fast as the runner's concurrency allows.
type Unpaced struct{}

// Pace never waits and never stops.
func (Unpaced) Pace(time.Duration, uint64) (time.Duration, bool) { return 0, false }

// ConstantPacer starts calls at a constant Rate, the first at once. A
// runner that falls behind gets no wait until it has caught up.
type ConstantPacer struct {
	Rate Rate
}

// Pace implements Pacer. An invalid Rate stops at once.
func (p ConstantPacer) Pace(elapsed time.Duration, started uint64) (time.Duration, bool) {
	due, ok := p.Rate.Due(started)
	if !ok {
		return 0, true
	}
	return max(due-elapsed, 0), false
}

// LinearPacer ramps the arrival rate linearly from From to To over Over,
// then keeps To. Stages (later) chain pacers like this one; Due gives the
// arrival times they need to join seamlessly.
type LinearPacer struct {
	From Rate
	To   Rate
	Over time.Duration
}

// Due returns when arrival n (0-based) is due: the time t at which the
// calls the rate has made due since 0 (its integral) reach n. ok is false
// when no such time exists (the rate ends at zero first) or it does not
// fit a Duration.
func (p LinearPacer) Due(n uint64) (due time.Duration, ok bool) {
	a, b := p.From.PerSecond(), p.To.PerSecond()
	d := p.Over.Seconds()
	if p.Over <= 0 {
		a, d = b, 0
	}
	x := float64(n)
	rampHits := (a + b) / 2 * d
	var t float64
	switch {
	case x <= rampHits:
		k := (b - a) / d
		t = solveRamp(a, k, x)
	case b > 0:
		t = d + (x-rampHits)/b
	default:
		return 0, false
	}
	ns := math.Round(t * 1e9)
	if math.IsNaN(ns) || ns >= math.MaxInt64 {
		return 0, false
	}
	return time.Duration(max(ns, 0)), true
}

// solveRamp returns the t >= 0 at which a*t + k*t*t/2 = x, given that one
// exists (x within the ramp); written in the form that stays exact when
// k is 0 and stable when k < 0.
func solveRamp(a, k, x float64) float64 {
	if x == 0 {
		return 0
	}
	den := a + math.Sqrt(max(a*a+2*k*x, 0))
	if den == 0 {
		return math.NaN()
	}
	return 2 * x / den
}

// Pace implements Pacer.
func (p LinearPacer) Pace(elapsed time.Duration, started uint64) (time.Duration, bool) {
	due, ok := p.Due(started)
	if !ok {
		return 0, true
	}
	return max(due-elapsed, 0), false
}

// Limit stops p once n calls have started.
func Limit(p Pacer, n uint64) Pacer { return limitPacer{p: p, n: n} }

type limitPacer struct {
	p Pacer
	n uint64
}

func (l limitPacer) Pace(elapsed time.Duration, started uint64) (time.Duration, bool) {
	if started >= l.n {
		return 0, true
	}
	return l.p.Pace(elapsed, started)
}

// Pacer returns the scenario's arrival pacing: Load.Rate (unpaced when
// zero), stopping after Load.Calls calls.
func (s *Scenario) Pacer() Pacer {
	var p Pacer = Unpaced{}
	if !s.Load.Rate.IsZero() {
		p = ConstantPacer{Rate: s.Load.Rate}
	}
	if s.Load.Calls < 1 {
		return p // bounded by time: load.duration or load.stages
	}
	return Limit(p, uint64(s.Load.Calls))
}
