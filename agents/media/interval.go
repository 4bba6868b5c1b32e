package media

import (
	"math"
	"time"

	"github.com/gauntlet-rtc/gauntlet/reports/emodel"
)

// Interval is what a Receiver measured between two calls of Interval: the
// runner turns one per second per call direction into the time series.
type Interval struct {
	Start, End time.Time // Start is the previous call's end (the first arrival for the first call)
	Packets    int       // every packet observed
	Received   int       // A.1 received
	Expected   int       // growth of the extended highest sequence number
	// Lost is Expected - Received, 0 when late reordered packets make it
	// negative (as RTCP's fraction lost does).
	Lost             int
	Late             int // received after their playout time
	LossPct          float64
	EffectiveLossPct float64 // (Lost + Late) / Expected
	JitterMS         float64 // the A.8 estimate at End (a running figure, not a delta)
	// DelayMeanMS and DelayMaxMS are over the marked packets that arrived
	// in the interval (sent after the first arrival); NaN when none did.
	DelayMeanMS float64
	DelayMaxMS  float64
	DelayCount  int
}

// MOS is the E-model's score (reports/emodel, c's entry) for the
// interval: its effective loss, and its mean one-way delay (0 when no
// marked packet arrived). It is 0 when nothing was received or c has no
// entry.
func (iv Interval) MOS(c Codec) float64 {
	if iv.Received == 0 {
		return 0
	}
	model, ok := emodel.Lookup(c.RTPMap())
	if !ok {
		return 0
	}
	delay := iv.DelayMeanMS
	if math.IsNaN(delay) {
		delay = 0
	}
	return model.MOS(emodel.Input{LossPct: iv.EffectiveLossPct, DelayMS: delay})
}

// intervalMark is the cumulative state at the previous Interval call.
type intervalMark struct {
	at                                time.Time
	packets, received, expected, late int
	delay                             startupDelay // delays since the mark
	called                            bool
}

// Interval returns the figures since the previous call (or since the first
// arrival), and starts the next interval at now.
func (r *Receiver) Interval(now time.Time) Interval {
	r.mu.Lock()
	defer r.mu.Unlock()
	received, expected := r.prevReceived, r.prevExpected
	if r.started {
		received += r.seq.received
		expected += r.seq.expected()
	}
	m := &r.interval
	start := m.at
	if !m.called {
		start = r.first
	}
	iv := Interval{
		Start:       start,
		End:         now,
		Packets:     r.packets - m.packets,
		Received:    received - m.received,
		Expected:    expected - m.expected,
		Late:        r.late - m.late,
		JitterMS:    r.jit.ms(r.codec.ClockRate),
		DelayMeanMS: math.NaN(),
		DelayMaxMS:  math.NaN(),
		DelayCount:  m.delay.n,
	}
	if m.delay.n > 0 {
		iv.DelayMeanMS, iv.DelayMaxMS = m.delay.mean(), m.delay.max
	}
	iv.Lost = max(iv.Expected-iv.Received, 0)
	if iv.Expected > 0 {
		iv.LossPct = float64(iv.Lost) / float64(iv.Expected) * 100
		iv.EffectiveLossPct = math.Min(float64(iv.Lost+iv.Late)/float64(iv.Expected)*100, 100)
	}
	*m = intervalMark{at: now, packets: r.packets, received: received, expected: expected, late: r.late, called: true}
	return iv
}
