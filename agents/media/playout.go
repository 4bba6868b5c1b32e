package media

import "time"

// DefaultPlayoutDelay is the jitter-buffer model's playout delay unless
// WithPlayoutDelay says otherwise.
const DefaultPlayoutDelay = 60 * time.Millisecond

// playoutResync is how long a run of late packets lasts before the model
// re-anchors, as a real buffer resynchronises after a lasting delay step.
const playoutResync = time.Second

// ReceiverOption configures a Receiver.
type ReceiverOption func(*Receiver)

// WithPlayoutDelay sets the jitter-buffer model's fixed playout delay
// (default DefaultPlayoutDelay). Zero or less switches the model off: no
// packet counts as late, and effective loss is the network loss.
func WithPlayoutDelay(d time.Duration) ReceiverOption {
	return func(r *Receiver) { r.playoutDelay = d }
}

// playout is a fixed-delay jitter-buffer model for one source. A packet is
// played at the lowest relative transit time seen so far (arrival minus
// RTP timestamp) plus the playout delay; one that arrives after that is
// late, which the listener hears as a loss. The anchor only moves down, to
// a packet that came through faster, except after a whole second of
// nothing but late packets: then the buffer re-anchors on the current
// packet (a resync), as a real buffer does after a lasting delay step.
type playout struct {
	delay      time.Duration
	started    bool
	epoch      time.Time // arrival of the source's first packet
	lastTS     uint32
	extTS      int64   // timestamp of the last packet, unwrapped, from the first
	minTransit float64 // seconds
	lateSince  time.Time
	resyncs    int
}

// late accounts for one packet and reports whether it missed its playout.
func (p *playout) late(ts uint32, arrival time.Time, clockRate uint32) bool {
	if p.delay <= 0 || clockRate == 0 {
		return false
	}
	if !p.started {
		// The first packet's transit is the origin of the others'.
		p.started, p.epoch, p.lastTS, p.extTS, p.minTransit = true, arrival, ts, 0, 0
		return false
	}
	p.extTS += int64(int32(ts - p.lastTS))
	p.lastTS = ts
	transit := arrival.Sub(p.epoch).Seconds() - float64(p.extTS)/float64(clockRate)
	p.minTransit = min(p.minTransit, transit)
	if transit-p.minTransit <= p.delay.Seconds() {
		p.lateSince = time.Time{}
		return false
	}
	switch {
	case p.lateSince.IsZero():
		p.lateSince = arrival
	case arrival.Sub(p.lateSince) >= playoutResync:
		p.minTransit = transit
		p.lateSince = time.Time{}
		p.resyncs++
		return false
	}
	return true
}
