package room

import (
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
)

// LegSample is what one of a participant's legs received from the other
// participant over one interval: one receive direction of the room (the
// far end measures the other), for the run's per-second series.
type LegSample struct {
	Peer string // the other participant's session
	media.Interval
	// MOS is the E-model over the interval's effective loss (network loss
	// plus packets too late for the playout buffer) and mean delay, as
	// for calls; 0 when nothing arrived or the codec has no model.
	MOS float64
}

// Session is the participant's ID in the room ("" until it has joined).
func (p *Participant) Session() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.session
}

// Sample reads each leg whose media is up (connected and sending, not yet
// stopped by a leave) over the interval since that leg's previous Sample
// (or its first packet), and starts the next interval at now. A leg's
// receiver keeps one interval mark, so a participant has one reader: the
// runner's sampler.
func (p *Participant) Sample(now time.Time) []LegSample {
	p.mu.Lock()
	links := p.linksLocked()
	p.mu.Unlock()
	var out []LegSample
	for _, l := range links {
		if s, ok := l.sample(now); ok {
			out = append(out, s)
		}
	}
	return out
}

func (l *link) sample(now time.Time) (LegSample, bool) {
	l.mu.Lock()
	recv, codec, up := l.recv, l.codec, l.st == linkUp && l.end.IsZero()
	l.mu.Unlock()
	if !up || recv == nil {
		return LegSample{}, false
	}
	s := LegSample{Peer: l.peerID, Interval: recv.Interval(now)}
	s.MOS = s.Interval.MOS(codec)
	return s, true
}
