package endpoint

import (
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
)

// Sample is what a leg received since its previous Sample (or since its
// first packet): one interval of one direction of a call, for the run's
// time series.
type Sample struct {
	media.Interval
	// MOS is the E-model over the interval's effective loss (network loss
	// plus packets too late for the playout buffer) and mean delay; 0 when
	// nothing arrived or the codec has no model.
	MOS float64
}

// Sample takes the leg's receiver's reading since its previous Sample; ok
// is false before the leg has a receiver.
func (l *Leg) Sample(now time.Time) (s Sample, ok bool) {
	l.mu.Lock()
	recv, codec := l.recv, l.codec
	l.mu.Unlock()
	if recv == nil {
		return s, false
	}
	s.Interval = recv.Interval(now)
	s.MOS = s.Interval.MOS(codec)
	return s, true
}
