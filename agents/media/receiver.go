package media

import (
	"sync"
	"time"

	"github.com/pion/rtp"
)

const maxTags = 8

// Receiver measures one direction of audio: RFC 3550 A.1 sequence accounting
// (extended sequence numbers, expected vs received, loss), A.8 interarrival
// jitter, one-way delay from the payload marks, the longest gap between
// arrivals, and how many payloads were exactly what the far end sent. Safe
// for concurrent use.
//
// Unlike A.1, a source is valid from its first packet (no probation): the
// harness owns both ends, so the first packet counts. A new SSRC starts a new
// source; the totals add up across sources.
//
// A jitter-buffer model (see WithPlayoutDelay) counts packets that arrive
// too late to be played: effective loss is network loss plus those. One-way
// delay figures leave out packets sent before the first packet arrived:
// those waited for the path to come up (ICE, DTLS, a gateway's early
// buffer), which set-up times report, not the path's delay.
type Receiver struct {
	codec        Codec
	playoutDelay time.Duration

	mu      sync.Mutex
	started bool
	ssrc    uint32
	seq     seqState    // A.1 state of the current source
	jit     jitterState // A.8 jitter, across sources
	buf     playout     // jitter-buffer model of the current source
	// totals of earlier sources.
	prevExpected int
	prevReceived int
	prevResyncs  int

	packets    int
	late       int
	delay      histogram
	startup    startupDelay
	first      time.Time
	last       time.Time
	longestGap time.Duration
	// pausedAt is when the current pause began (zero when none);
	// pausedSinceLast is the paused time since the last arrival.
	pausedAt        time.Time
	pausedSinceLast time.Duration
	rebase          bool // the next packet starts a fresh sequence count (after a pause)
	matched         int
	tags            []uint64
	interval        intervalMark
}

// NewReceiver returns a Receiver for audio in codec c (its clock rate turns
// jitter into ms; its payload size is what CheckPayload expects).
func NewReceiver(c Codec, opts ...ReceiverOption) *Receiver {
	r := &Receiver{codec: c, playoutDelay: DefaultPlayoutDelay}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Observe accounts for one packet received at arrival.
func (r *Receiver) Observe(pkt *rtp.Packet, arrival time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.packets++
	if !r.started || pkt.SSRC != r.ssrc || r.rebase {
		// A new source, or the same one after a pause: what the far end
		// did not send (or the target did not forward) while the call
		// was held is no loss, so the count starts afresh.
		r.rebase = false
		if r.started {
			r.prevExpected += r.seq.expected()
			r.prevReceived += r.seq.received
			r.prevResyncs += r.buf.resyncs
		}
		r.started = true
		r.ssrc = pkt.SSRC
		r.seq.init(pkt.SequenceNumber)
		r.jit.lastArrival = time.Time{}
		r.buf = playout{delay: r.playoutDelay}
	}
	if r.seq.update(pkt.SequenceNumber) && r.buf.late(pkt.Timestamp, arrival, r.codec.ClockRate) {
		r.late++
	}
	r.jit.update(pkt.Timestamp, arrival, r.codec.ClockRate)
	r.updateArrival(arrival)
	m, ok := CheckPayload(r.codec, pkt.Payload)
	if ok {
		r.matched++
	} else if m, ok = ParseMark(pkt.Payload); !ok {
		return
	}
	r.addTag(m.Tag)
	d := float64(arrival.Sub(m.Sent)) / float64(time.Millisecond)
	if m.Sent.Before(r.first) {
		r.startup.add(d)
		return
	}
	r.delay.add(d)
	r.interval.delay.add(d)
}

func (r *Receiver) updateArrival(arrival time.Time) {
	if r.first.IsZero() {
		r.first = arrival
	}
	if !r.last.IsZero() {
		r.longestGap = max(r.longestGap, arrival.Sub(r.last)-r.pausedSinceLast)
	}
	if arrival.After(r.last) {
		r.last = arrival
		r.pausedSinceLast = 0
	}
}

// Pause says the far end stops sending on purpose from at (the call is
// put on hold): the silence until Resume is no gap.
func (r *Receiver) Pause(at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pausedAt.IsZero() {
		r.pausedAt = at
	}
}

// Resume ends a pause at at.
func (r *Receiver) Resume(at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pausedAt.IsZero() {
		return
	}
	from := r.pausedAt
	if r.last.After(from) {
		from = r.last // packets still came after the pause began
	}
	if at.After(from) {
		r.pausedSinceLast += at.Sub(from)
	}
	r.pausedAt = time.Time{}
	r.rebase = r.started
}

// SilenceAt is how long nothing has arrived at end, since the last packet,
// leaving out pauses: what the listener hears as a dropout.
func (r *Receiver) SilenceAt(end time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last.IsZero() || !end.After(r.last) {
		return 0
	}
	d := end.Sub(r.last) - r.pausedSinceLast
	if !r.pausedAt.IsZero() {
		from := r.pausedAt
		if r.last.After(from) {
			from = r.last
		}
		d -= end.Sub(from)
	}
	return max(d, 0)
}

func (r *Receiver) addTag(tag uint64) {
	for _, t := range r.tags {
		if t == tag {
			return
		}
	}
	if len(r.tags) < maxTags {
		r.tags = append(r.tags, tag)
	}
}

// Stats are a Receiver's figures so far.
type Stats struct {
	Packets          int     // every packet observed
	Received         int     // counted by RFC 3550 A.1 (duplicates count; a packet after a jump does not)
	Expected         int     // extended highest sequence - base + 1, summed over sources
	Lost             int     // Expected - Received, never below 0
	LossPct          float64 // Lost / Expected * 100
	Late             int     // received, but after their playout time in the jitter-buffer model
	EffectiveLost    int     // Lost + Late: what the listener misses
	EffectiveLossPct float64 // EffectiveLost / Expected * 100
	PlayoutDelay     time.Duration
	Resyncs          int     // times the jitter-buffer model re-anchored after a lasting delay step
	JitterMS         float64 // A.8 interarrival jitter
	DelayMeanMS      float64 // one-way delay from the marks
	DelayP50MS       float64
	DelayP95MS       float64
	DelayMaxMS       float64
	DelayCount       int // packets with a readable mark, sent after the first arrival
	StartupCount     int // packets with a mark sent before the first arrival (not in the delay figures)
	LongestGap       time.Duration
	FirstArrival     time.Time
	LastArrival      time.Time
	Matched          int      // payloads exactly as the far end sent them
	Tags             []uint64 // stream tags seen in marks (at most 8)
}

// Stats returns the figures so far.
func (r *Receiver) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Stats{
		Packets:      r.packets,
		Received:     r.prevReceived,
		Expected:     r.prevExpected,
		Late:         r.late,
		PlayoutDelay: max(r.playoutDelay, 0),
		Resyncs:      r.prevResyncs + r.buf.resyncs,
		JitterMS:     r.jit.ms(r.codec.ClockRate),
		DelayMeanMS:  r.delay.mean(),
		DelayP50MS:   r.delay.quantile(0.50),
		DelayP95MS:   r.delay.quantile(0.95),
		DelayMaxMS:   r.delay.max,
		DelayCount:   int(r.delay.n),
		StartupCount: r.startup.n,
		LongestGap:   r.longestGap,
		FirstArrival: r.first,
		LastArrival:  r.last,
		Matched:      r.matched,
		Tags:         append([]uint64(nil), r.tags...),
	}
	if r.delay.n == 0 && r.startup.n > 0 {
		// Every marked packet was sent before the first arrival (a call
		// shorter than its path delay): they are all there is, and no
		// percentile is kept for them.
		s.DelayMeanMS, s.DelayMaxMS, s.DelayCount = r.startup.mean(), r.startup.max, r.startup.n
	}
	if r.started {
		s.Received += r.seq.received
		s.Expected += r.seq.expected()
	}
	s.Lost = max(s.Expected-s.Received, 0)
	s.EffectiveLost = min(s.Lost+s.Late, max(s.Expected, 0))
	if s.Expected > 0 {
		s.LossPct = float64(s.Lost) / float64(s.Expected) * 100
		s.EffectiveLossPct = float64(s.EffectiveLost) / float64(s.Expected) * 100
	}
	return s
}

func (s Stats) hasTag(tag uint64) bool {
	for _, t := range s.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// startupDelay sums the delays of packets sent before the first arrival.
type startupDelay struct {
	n        int
	sum, max float64
}

func (d *startupDelay) add(v float64) {
	d.n++
	d.sum += v
	d.max = max(d.max, v)
}

func (d *startupDelay) mean() float64 {
	if d.n == 0 {
		return 0
	}
	return d.sum / float64(d.n)
}
