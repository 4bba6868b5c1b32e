package reports

// Interval is one reading of every two-way connection in progress over a
// short interval (a second, from Start to End of its record): the run's
// quality over time, as it happened rather than as calls ended. The runner
// takes it from the receivers of the connected calls' directions and of
// the room participants' legs; figures are means over the directions that
// received packets in the interval.
type Interval struct {
	// Active counts the connections with media up during the interval: a
	// call, or a pair of room participants with a leg up between them
	// (a room of three is three), each direction read once, by its
	// receiver.
	Active     int `json:"active"`
	Directions int `json:"directions"` // directions that received packets in it
	// Silent counts the directions of connected calls that received
	// nothing in the interval (held calls included).
	Silent           int     `json:"silent"`
	LossPct          float64 `json:"loss_pct"`
	EffectiveLossPct float64 `json:"effective_loss_pct"` // loss plus packets too late for the playout buffer
	JitterMS         float64 `json:"jitter_ms"`
	DelayMS          float64 `json:"delay_ms,omitempty"` // mean one-way delay, where marks were readable
	MOS              float64 `json:"mos,omitempty"`      // E-model over the interval's effective loss and delay
	MOSMin           float64 `json:"mos_min,omitempty"`  // the worst direction's
}

// sample is the interval as a timeline reading, placed at its midpoint:
// the second that holds most of it.
func (iv Interval) sample(r Result) QualitySample {
	at := r.Start.Add(r.End.Sub(r.Start) / 2)
	return QualitySample{At: at, MOS: iv.MOS, LossPct: iv.LossPct, JitterMS: iv.JitterMS}
}
