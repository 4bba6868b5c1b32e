package media

import (
	"math"
	"sync"
	"time"

	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/pion/rtp"
)

// RFC 3550 A.1 constants.
const (
	maxDropout  = 3000
	maxMisorder = 100
	seqMod      = 1 << 16
	maxTags     = 8
)

// Receiver measures one direction of audio: RFC 3550 A.1 sequence accounting
// (extended sequence numbers, expected vs received, loss), A.8 interarrival
// jitter, one-way delay from the payload marks, the longest gap between
// arrivals, and how many payloads were exactly what the far end sent. Safe
// for concurrent use.
//
// Unlike A.1, a source is valid from its first packet (no probation): the
// harness owns both ends, so the first packet counts. A new SSRC starts a new
// source; the totals add up across sources.
type Receiver struct {
	codec Codec

	mu      sync.Mutex
	started bool
	ssrc    uint32
	// A.1 state of the current source.
	baseSeq  uint32
	maxSeq   uint16
	cycles   uint32
	badSeq   uint32
	received int
	// totals of earlier sources.
	prevExpected int
	prevReceived int

	// A.8 jitter in timestamp units.
	jitter      float64
	lastTS      uint32
	lastArrival time.Time

	packets    int
	delay      histogram
	first      time.Time
	last       time.Time
	longestGap time.Duration
	matched    int
	tags       []uint64
}

// NewReceiver returns a Receiver for audio in codec c (its clock rate turns
// jitter into ms; its payload size is what CheckPayload expects).
func NewReceiver(c Codec) *Receiver { return &Receiver{codec: c} }

// Observe accounts for one packet received at arrival.
func (r *Receiver) Observe(pkt *rtp.Packet, arrival time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.packets++
	if !r.started || pkt.SSRC != r.ssrc {
		if r.started {
			r.prevExpected += r.expected()
			r.prevReceived += r.received
		}
		r.started = true
		r.ssrc = pkt.SSRC
		r.initSeq(pkt.SequenceNumber)
		r.lastArrival = time.Time{}
	}
	if r.updateSeq(pkt.SequenceNumber) {
		r.received++
	}
	r.updateJitter(pkt.Timestamp, arrival)
	r.updateArrival(arrival)
	if m, ok := CheckPayload(r.codec, pkt.Payload); ok {
		r.matched++
		r.addTag(m.Tag)
		r.delay.add(float64(arrival.Sub(m.Sent)) / float64(time.Millisecond))
	} else if m, ok := ParseMark(pkt.Payload); ok {
		r.addTag(m.Tag)
		r.delay.add(float64(arrival.Sub(m.Sent)) / float64(time.Millisecond))
	}
}

func (r *Receiver) initSeq(seq uint16) {
	r.baseSeq = uint32(seq)
	r.maxSeq = seq
	r.badSeq = seqMod + 1
	r.cycles = 0
	r.received = 0
}

// updateSeq is RFC 3550 A.1 update_seq without probation; it reports
// whether the packet counts as received.
func (r *Receiver) updateSeq(seq uint16) bool {
	udelta := seq - r.maxSeq
	switch {
	case udelta < maxDropout:
		if seq < r.maxSeq {
			r.cycles += seqMod
		}
		r.maxSeq = seq
	case uint32(udelta) <= seqMod-maxMisorder:
		if uint32(seq) != r.badSeq {
			r.badSeq = (uint32(seq) + 1) & (seqMod - 1)
			return false
		}
		// Two sequential packets after a very large jump: the sender
		// restarted; resynchronise.
		r.initSeq(seq)
	default:
		// duplicate or reordered packet
	}
	return true
}

func (r *Receiver) expected() int {
	return int(r.cycles+uint32(r.maxSeq)) - int(r.baseSeq) + 1
}

// updateJitter is RFC 3550 A.8: J += (|D| - J)/16, D the difference of
// relative transit times, in timestamp units.
func (r *Receiver) updateJitter(ts uint32, arrival time.Time) {
	if !r.lastArrival.IsZero() {
		arrivalTicks := arrival.Sub(r.lastArrival).Seconds() * float64(r.codec.ClockRate)
		d := arrivalTicks - float64(int32(ts-r.lastTS))
		r.jitter += (math.Abs(d) - r.jitter) / 16
	}
	r.lastTS = ts
	r.lastArrival = arrival
}

func (r *Receiver) updateArrival(arrival time.Time) {
	if r.first.IsZero() {
		r.first = arrival
	}
	if !r.last.IsZero() {
		r.longestGap = max(r.longestGap, arrival.Sub(r.last))
	}
	if arrival.After(r.last) {
		r.last = arrival
	}
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
	Packets      int     // every packet observed
	Received     int     // counted by RFC 3550 A.1 (duplicates count; a packet after a jump does not)
	Expected     int     // extended highest sequence - base + 1, summed over sources
	Lost         int     // Expected - Received, never below 0
	LossPct      float64 // Lost / Expected * 100
	JitterMS     float64 // A.8 interarrival jitter
	DelayMeanMS  float64 // one-way delay from the marks
	DelayP50MS   float64
	DelayP95MS   float64
	DelayMaxMS   float64
	DelayCount   int // packets with a readable mark
	LongestGap   time.Duration
	FirstArrival time.Time
	LastArrival  time.Time
	Matched      int      // payloads exactly as the far end sent them
	Tags         []uint64 // stream tags seen in marks (at most 8)
}

// Stats returns the figures so far.
func (r *Receiver) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Stats{
		Packets:      r.packets,
		Received:     r.prevReceived,
		Expected:     r.prevExpected,
		DelayMeanMS:  r.delay.mean(),
		DelayP50MS:   r.delay.quantile(0.50),
		DelayP95MS:   r.delay.quantile(0.95),
		DelayMaxMS:   r.delay.max,
		DelayCount:   int(r.delay.n),
		LongestGap:   r.longestGap,
		FirstArrival: r.first,
		LastArrival:  r.last,
		Matched:      r.matched,
		Tags:         append([]uint64(nil), r.tags...),
	}
	if r.started {
		s.Received += r.received
		s.Expected += r.expected()
	}
	if r.codec.ClockRate > 0 {
		s.JitterMS = r.jitter / float64(r.codec.ClockRate) * 1000
	}
	s.Lost = max(s.Expected-s.Received, 0)
	if s.Expected > 0 {
		s.LossPct = float64(s.Lost) / float64(s.Expected) * 100
	}
	return s
}

// Direction turns the figures into a report direction; sent is what the far
// end's Sender sent. Audio is set when a payload arrived exactly as sent and
// carrying tag (0: any tag). MOS is left for the caller.
func (s Stats) Direction(name string, sent int, tag uint64) reports.Direction {
	audio := s.Matched > 0
	if tag != 0 {
		audio = audio && s.hasTag(tag)
	}
	return reports.Direction{
		Name:         name,
		Sent:         sent,
		Received:     s.Received,
		Lost:         s.Lost,
		LossPct:      s.LossPct,
		JitterMS:     s.JitterMS,
		DelayMS:      s.DelayMeanMS,
		LongestGapMS: float64(s.LongestGap) / float64(time.Millisecond),
		Audio:        audio,
		Method:       "rtp-marks",
	}
}

func (s Stats) hasTag(tag uint64) bool {
	for _, t := range s.Tags {
		if t == tag {
			return true
		}
	}
	return false
}
