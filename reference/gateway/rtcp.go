package gateway

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// phoneRTCP is the gateway's RTCP toward one phone (RFC 3550 6.4): as an
// endpoint of the phone leg it reports on what it sent (a sender report
// while it sends, a receiver report otherwise), with a reception block on
// the phone's stream and an SDES CNAME in every compound packet; and it
// reads the phone's reports, for the round trip. All times are wall clock.
type phoneRTCP struct {
	ssrc   uint32
	cname  string
	origin time.Time // arrival times are counted from here for jitter

	mu   sync.Mutex
	rate uint32 // the phone leg's codec clock rate, 0 until connected

	sending     bool
	sentPackets uint32
	sentOctets  uint32
	lastTS      uint32    // RTP timestamp of the last packet sent
	lastSentAt  time.Time // and when

	in rtpInbound // the phone's stream

	// The phone's latest sender report, echoed as LSR/DLSR.
	srSSRC uint32
	srMid  uint32 // the middle 32 bits of its NTP timestamp
	srAt   time.Time
}

func newPhoneRTCP(ssrc uint32, cname string) *phoneRTCP {
	return &phoneRTCP{ssrc: ssrc, cname: cname, origin: time.Now()}
}

// setRate sets the clock rate of the codec the leg carries.
func (s *phoneRTCP) setRate(rate uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rate = rate
}

// sent accounts for one RTP packet sent toward the phone.
func (s *phoneRTCP) sent(h *rtp.Header, payload int, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sending = true
	s.sentPackets++
	s.sentOctets += uint32(payload)
	s.lastTS, s.lastSentAt = h.Timestamp, at
}

// received accounts for one RTP packet from the phone.
func (s *phoneRTCP) received(h *rtp.Header, arrival time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	units := int64(arrival.Sub(s.origin).Seconds() * float64(s.rate))
	s.in.add(h, units)
}

// report is the compound packet to send at now; bye appends an RTCP BYE
// (the leg is ending).
func (s *phoneRTCP) report(now time.Time, bye bool) []rtcp.Packet {
	s.mu.Lock()
	defer s.mu.Unlock()
	var blocks []rtcp.ReceptionReport
	if s.in.started {
		b := s.in.block()
		if s.srAt.IsZero() || s.srSSRC != b.SSRC {
			b.LastSenderReport, b.Delay = 0, 0
		} else {
			b.LastSenderReport = s.srMid
			b.Delay = uint32(now.Sub(s.srAt).Seconds() * 65536)
		}
		blocks = append(blocks, b)
	}
	var head rtcp.Packet = &rtcp.ReceiverReport{SSRC: s.ssrc, Reports: blocks}
	if s.sending {
		ts := s.lastTS + uint32(now.Sub(s.lastSentAt).Seconds()*float64(s.rate))
		head = &rtcp.SenderReport{SSRC: s.ssrc, NTPTime: ntpTime(now), RTPTime: ts,
			PacketCount: s.sentPackets, OctetCount: s.sentOctets, Reports: blocks}
	}
	out := []rtcp.Packet{head, &rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{
		Source: s.ssrc, Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: s.cname}},
	}}}}
	if bye {
		out = append(out, &rtcp.Goodbye{Sources: []uint32{s.ssrc}})
	}
	return out
}

// handle reads the phone's compound packet, received at arrival, and
// returns the round trips its reception blocks on the gateway's stream
// give (RFC 3550 6.4.1: A - LSR - DLSR).
func (s *phoneRTCP) handle(pkts []rtcp.Packet, arrival time.Time) []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rtts []time.Duration
	blocks := func(from uint32, rs []rtcp.ReceptionReport) {
		if from == s.ssrc {
			return // our own report, reflected
		}
		for _, b := range rs {
			if b.SSRC != s.ssrc || b.LastSenderReport == 0 {
				continue
			}
			rtt := roundTrip(uint32(ntpTime(arrival)>>16), b.LastSenderReport, b.Delay)
			rtts = append(rtts, max(rtt, 0)) // just below 0: rounding on a fast path
		}
	}
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.SenderReport:
			if p.SSRC != s.ssrc {
				s.srSSRC, s.srMid, s.srAt = p.SSRC, uint32(p.NTPTime>>16), arrival
			}
			blocks(p.SSRC, p.Reports)
		case *rtcp.ReceiverReport:
			blocks(p.SSRC, p.Reports)
		}
	}
	return rtts
}

// roundTrip is A - LSR - DLSR (RFC 3550 6.4.1), each in the middle 32
// bits of NTP time, 1/65536 s.
func roundTrip(a, lsr, dlsr uint32) time.Duration {
	return time.Duration(int64(int32(a-lsr-dlsr)) * int64(time.Second) / 65536)
}

// nextReport is the wait before the next report: RFC 3550 6.3.1's
// randomisation of the interval to between 0.5 and 1.5 times it.
func nextReport(interval time.Duration) time.Duration {
	return time.Duration((0.5 + rand.Float64()) * float64(interval))
}

// ntpTime is t as a 64-bit NTP timestamp (RFC 3550 4): seconds since 1900
// above, the fraction below.
func ntpTime(t time.Time) uint64 {
	const unixToNTP = 2208988800
	return uint64(t.Unix()+unixToNTP)<<32 | uint64(t.Nanosecond())<<32/uint64(time.Second)
}

// rtpInbound is the reception statistics of one RTP stream (RFC 3550
// A.1, A.3, A.8): the highest sequence number with its wrap count,
// packets received, the counts at the last report, and the interarrival
// jitter in timestamp units. A new SSRC, or a jump too large to be loss,
// starts it afresh.
type rtpInbound struct {
	started  bool
	ssrc     uint32
	base     uint32 // extended sequence number of the first packet
	cycles   uint32 // wraps of the 16-bit sequence number, times 65536
	maxSeq   uint16
	received uint32

	priorExpected uint32
	priorReceived uint32

	transit int64 // arrival minus RTP timestamp, timestamp units
	jitter  float64
}

// A forward jump in sequence numbers up to maxDropout is loss; one
// further, unless within maxMisorder behind the highest, is a restarted
// stream (RFC 3550 A.1, without its wait for a second packet).
const (
	maxDropout  = 3000
	maxMisorder = 100
)

func (in *rtpInbound) add(h *rtp.Header, arrival int64) {
	seq := h.SequenceNumber
	if !in.started || h.SSRC != in.ssrc {
		*in = rtpInbound{started: true, ssrc: h.SSRC, base: uint32(seq), maxSeq: seq, transit: arrival - int64(h.Timestamp)}
		in.received = 1
		return
	}
	switch delta := seq - in.maxSeq; {
	case delta < maxDropout:
		if seq < in.maxSeq {
			in.cycles += 1 << 16
		}
		in.maxSeq = seq
	case delta <= 1<<16-maxMisorder:
		*in = rtpInbound{}
		in.add(h, arrival)
		return
	}
	// In order, or a little behind the highest (reordered, duplicated):
	// counted, as A.1 counts, and taken into the jitter.
	in.received++
	transit := arrival - int64(h.Timestamp)
	d := transit - in.transit
	if d < 0 {
		d = -d
	}
	in.transit = transit
	in.jitter += (float64(d) - in.jitter) / 16
}

// block is the reception report on the stream as it stands, and moves
// the interval on (fraction lost is since the previous block).
func (in *rtpInbound) block() rtcp.ReceptionReport {
	ext := in.cycles + uint32(in.maxSeq)
	expected := ext - in.base + 1
	lost := int64(expected) - int64(in.received)
	expInt := expected - in.priorExpected
	recvInt := in.received - in.priorReceived
	in.priorExpected, in.priorReceived = expected, in.received
	b := rtcp.ReceptionReport{
		SSRC:               in.ssrc,
		TotalLost:          uint32(min(max(lost, -1<<23), 1<<23-1)) & 0xffffff,
		LastSequenceNumber: ext,
		Jitter:             uint32(in.jitter),
	}
	if lostInt := int64(expInt) - int64(recvInt); expInt > 0 && lostInt > 0 {
		b.FractionLost = uint8(min(lostInt<<8/int64(expInt), 255))
	}
	return b
}
