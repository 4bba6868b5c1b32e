package media

import (
	"math"
	"time"
)

// RFC 3550 A.1 constants.
const (
	maxDropout  = 3000
	maxMisorder = 100
	seqMod      = 1 << 16
)

// seqState is RFC 3550 A.1 sequence accounting for one source, without
// probation: the harness owns both ends, so the first packet counts.
type seqState struct {
	baseSeq  uint32
	maxSeq   uint16
	cycles   uint32
	badSeq   uint32
	received int
}

func (s *seqState) init(seq uint16) {
	s.baseSeq = uint32(seq)
	s.maxSeq = seq
	s.badSeq = seqMod + 1
	s.cycles = 0
	s.received = 0
}

// update is A.1 update_seq; it reports whether the packet counts as
// received.
func (s *seqState) update(seq uint16) bool {
	udelta := seq - s.maxSeq
	switch {
	case udelta < maxDropout:
		if seq < s.maxSeq {
			s.cycles += seqMod
		}
		s.maxSeq = seq
	case uint32(udelta) <= seqMod-maxMisorder:
		if uint32(seq) != s.badSeq {
			s.badSeq = (uint32(seq) + 1) & (seqMod - 1)
			return false
		}
		// Two sequential packets after a very large jump: the sender
		// restarted; resynchronise.
		s.init(seq)
	default:
		// duplicate or reordered packet
	}
	s.received++
	return true
}

// extHighest is the extended highest sequence number received.
func (s *seqState) extHighest() uint32 { return s.cycles + uint32(s.maxSeq) }

func (s *seqState) expected() int { return int(s.extHighest()) - int(s.baseSeq) + 1 }

// jitterState is the RFC 3550 A.8 interarrival jitter estimator:
// J += (|D| - J)/16, D the difference of relative transit times, in
// timestamp units.
type jitterState struct {
	j           float64
	lastTS      uint32
	lastArrival time.Time
}

func (s *jitterState) update(ts uint32, arrival time.Time, clockRate uint32) {
	if !s.lastArrival.IsZero() {
		arrivalTicks := arrival.Sub(s.lastArrival).Seconds() * float64(clockRate)
		d := arrivalTicks - float64(int32(ts-s.lastTS))
		s.j += (math.Abs(d) - s.j) / 16
	}
	s.lastTS = ts
	s.lastArrival = arrival
}

// ms converts the estimate to milliseconds.
func (s *jitterState) ms(clockRate uint32) float64 {
	if clockRate == 0 {
		return 0
	}
	return s.j / float64(clockRate) * 1000
}
