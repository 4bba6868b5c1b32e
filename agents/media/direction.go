package media

import (
	"time"

	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/gauntlet-rtc/gauntlet/reports/emodel"
)

// Direction turns the figures into a report direction; sent is what the far
// end's Sender sent. Audio is set when a payload arrived exactly as sent and
// carrying tag (0: any tag). Loss and jitter come from the RTP that arrived;
// delay from the marks, when any arrived (else DelayMethod stays empty: see
// WithRTCP). MOS is left for the caller (see MOS).
func (s Stats) Direction(name string, sent int, tag uint64) reports.Direction {
	audio := s.Matched > 0
	if tag != 0 {
		audio = audio && s.hasTag(tag)
	}
	d := reports.Direction{
		Name:             name,
		Sent:             sent,
		Received:         s.Received,
		Lost:             s.Lost,
		LossPct:          s.LossPct,
		JitterMS:         s.JitterMS,
		DelayMS:          s.DelayMeanMS,
		LongestGapMS:     float64(s.LongestGap) / float64(time.Millisecond),
		Audio:            audio,
		Method:           reports.MethodMarks,
		EffectiveLossPct: s.EffectiveLossPct,
		Late:             s.Late,
		PlayoutDelayMS:   float64(s.PlayoutDelay) / float64(time.Millisecond),
		DelayP50MS:       s.DelayP50MS,
		DelayP95MS:       s.DelayP95MS,
		DelayMaxMS:       s.DelayMaxMS,
		LossMethod:       reports.MethodRTP,
		JitterMethod:     reports.MethodRTP,
	}
	if s.DelayCount > 0 {
		d.DelayMethod = reports.MethodMarks
	}
	return d
}

// WithRTCP adds what RTCP measured on the sending side of d (its round
// trip) and, when no payload mark gave the one-way delay (a far end that is
// not ours), takes the delay as half the round trip.
func WithRTCP(d reports.Direction, sender RTCPStats) reports.Direction {
	if sender.RTTCount == 0 {
		return d
	}
	d.RTTMS = sender.RTTMeanMS
	if d.DelayMethod == "" {
		d.DelayMS = sender.RTTMeanMS / 2
		d.DelayMethod = reports.MethodRTT
	}
	return d
}

// MOS applies the E-model (reports/emodel, the codec's entry) to one
// direction: its effective loss (network loss plus late packets) and its
// one-way delay. It is 0 when nothing arrived or the codec has no entry.
func MOS(c Codec, d reports.Direction) float64 { return mos(c, d, d.EffectiveLossPct) }

// Direction is our outgoing stream as the far end's reception reports
// describe it, for a far end that is not ours: loss and jitter from its
// latest block, delay as half the round trip. Received counts from our
// first packet, so packets lost before the far end's first arrival count
// as received. Audio is only that something arrived: the payload cannot be
// checked from here.
func (s RTCPStats) Direction(name string) reports.Direction {
	received := max(s.Expected-s.CumulativeLost, 0)
	d := reports.Direction{
		Name:         name,
		Sent:         s.PacketsSent,
		Received:     received,
		Lost:         max(s.CumulativeLost, 0),
		JitterMS:     s.JitterMS,
		Audio:        received > 0,
		Method:       "rtcp",
		LossMethod:   reports.MethodRTCP,
		JitterMethod: reports.MethodRTCP,
	}
	if s.Expected > 0 {
		d.LossPct = float64(d.Lost) / float64(s.Expected) * 100
		// RTCP says nothing of late packets: network loss stands in.
		d.EffectiveLossPct = d.LossPct
	}
	return WithRTCP(d, s)
}

// NetworkMOS applies the E-model to one direction's network loss and
// one-way delay; 0 when nothing arrived or the codec has no model. The
// jitter-buffer model's effective loss (late packets too) is recorded
// beside it, but MOS stays on network loss until the ground-truth suite
// models the jitter buffer too.
func NetworkMOS(c Codec, d reports.Direction) float64 { return mos(c, d, d.LossPct) }

func mos(c Codec, d reports.Direction, lossPct float64) float64 {
	if d.Received == 0 {
		return 0
	}
	model, ok := emodel.Lookup(c.RTPMap())
	if !ok {
		return 0
	}
	return model.MOS(emodel.Input{LossPct: lossPct, DelayMS: d.DelayMS})
}
