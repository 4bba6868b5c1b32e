package media

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// DefaultRTCPInterval is the mean time between a leg's RTCP reports. RFC
// 3550 6.2's 5 s minimum is for large sessions; a two-party call may report
// more often (RFC 4585 3.4, and browsers report audio about every second),
// and calls held for a few seconds still get several reports.
const DefaultRTCPInterval = time.Second

// NextRTCP returns the wait before the next report: uniformly random in
// [0.5, 1.5] times interval (RFC 3550 6.3.1), so legs do not report in step.
func NextRTCP(interval time.Duration) time.Duration {
	if interval <= 0 {
		return 0
	}
	return interval/2 + rand.N(interval)
}

// RTCP is one media leg's RTCP (RFC 3550 6.4): it counts the RTP the leg
// sends (OnSend) and receives (OnReceive), builds sender or receiver
// reports with a reception block on the stream received and an SDES CNAME
// (Report), and reads the far end's (Handle): the round-trip time from its
// block about our stream (A - LSR - DLSR), and the loss and jitter it saw.
// It sends nothing: the leg calls Report on a timer and writes the
// packets. Safe for concurrent use.
type RTCP struct {
	cname string
	rate  uint32

	mu    sync.Mutex
	ssrc  uint32
	adopt bool // ssrc follows the packets sent
	// our stream
	sending  bool
	firstSeq uint16
	packets  uint32
	octets   uint32
	lastTS   uint32
	lastSent time.Time
	// the stream we receive
	rx       bool
	rxSSRC   uint32
	seq      seqState
	jit      jitterState
	prevExp  int
	prevRecv int
	srSSRC   uint32 // source of the last sender report
	lastSR   uint32 // its NTP time, middle 32 bits
	lastSRAt time.Time
	stats    RTCPStats
	rttSumMS float64
}

// RTCPStats is what a leg's RTCP exchanged and learnt.
type RTCPStats struct {
	ReportsSent     int // compound packets built by Report
	PacketsReceived int // compound packets handed to Handle
	PacketsSent     int // RTP packets we sent (the SR packet count)
	Unreadable      int // RTCP the leg could not decrypt or parse (the leg fills it in)

	// The far end's latest reception block about our stream. Expected is
	// from its extended highest sequence number and our first one.
	Reports        int
	FractionLost   float64 // over its last report interval, 0 to 1
	CumulativeLost int
	Expected       int
	JitterMS       float64

	// Round trips from those blocks (A - LSR - DLSR), when they carried
	// the time of one of our sender reports.
	RTTCount  int
	RTTLastMS float64
	RTTMeanMS float64
	RTTMaxMS  float64

	// The far end's latest sender report.
	RemoteSRs         int
	RemotePacketsSent int
	RemoteOctetsSent  int
}

// NewRTCP returns the RTCP of a leg that sends with ssrc and cname, in
// codec c (whose clock rate converts timestamps and jitter). With ssrc 0
// the reports carry the SSRC of the packets the leg sends (a random one
// until the first).
func NewRTCP(ssrc uint32, cname string, c Codec) *RTCP {
	s := &RTCP{ssrc: ssrc, cname: cname, rate: c.ClockRate}
	if ssrc == 0 {
		s.ssrc, s.adopt = rand.Uint32()|1, true
	}
	return s
}

// SSRC is the leg's own SSRC, as its reports carry it.
func (s *RTCP) SSRC() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ssrc
}

// OnSend accounts for one RTP packet the leg sent at at, with payloadLen
// bytes of payload. Unless NewRTCP was given ssrc 0, its SSRC is taken to
// be the leg's, whatever the header says.
func (s *RTCP) OnSend(h *rtp.Header, payloadLen int, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.adopt && h.SSRC != s.ssrc {
		s.ssrc, s.sending, s.packets, s.octets = h.SSRC, false, 0, 0
	}
	if !s.sending {
		s.sending, s.firstSeq = true, h.SequenceNumber
	}
	s.packets++
	s.octets += uint32(payloadLen)
	s.lastTS, s.lastSent = h.Timestamp, at
}

// OnReceive accounts for one RTP packet received at arrival. A new SSRC
// starts the reception statistics afresh.
func (s *RTCP) OnReceive(h *rtp.Header, arrival time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.rx || h.SSRC != s.rxSSRC {
		s.rx, s.rxSSRC = true, h.SSRC
		s.seq.init(h.SequenceNumber)
		s.jit = jitterState{}
		s.prevExp, s.prevRecv = 0, 0
	}
	s.seq.update(h.SequenceNumber)
	s.jit.update(h.Timestamp, arrival, s.rate)
}

// Report builds the compound packet to send at now: a sender report if the
// leg has sent RTP (else a receiver report), with a reception block on the
// stream received if any, then an SDES CNAME.
func (s *RTCP) Report(now time.Time) []rtcp.Packet {
	s.mu.Lock()
	defer s.mu.Unlock()
	var blocks []rtcp.ReceptionReport
	if s.rx {
		blocks = []rtcp.ReceptionReport{s.block(now)}
	}
	var first rtcp.Packet = &rtcp.ReceiverReport{SSRC: s.ssrc, Reports: blocks}
	if s.sending {
		ts := s.lastTS
		if s.rate > 0 {
			ts += uint32(now.Sub(s.lastSent).Seconds() * float64(s.rate))
		}
		first = &rtcp.SenderReport{
			SSRC: s.ssrc, NTPTime: NTPTime(now), RTPTime: ts,
			PacketCount: s.packets, OctetCount: s.octets, Reports: blocks,
		}
	}
	s.stats.ReportsSent++
	return []rtcp.Packet{first, &rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{
		Source: s.ssrc,
		Items:  []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: s.cname}},
	}}}}
}

// block is the reception block on the stream received; the caller holds
// s.mu.
func (s *RTCP) block(now time.Time) rtcp.ReceptionReport {
	expected, received := s.seq.expected(), s.seq.received
	expInt, lostInt := expected-s.prevExp, expected-s.prevExp-(received-s.prevRecv)
	s.prevExp, s.prevRecv = expected, received
	b := rtcp.ReceptionReport{
		SSRC:               s.rxSSRC,
		TotalLost:          uint32(min(max(expected-received, -1<<23), 1<<23-1)) & 0xFFFFFF,
		LastSequenceNumber: s.seq.extHighest(),
		Jitter:             uint32(s.jit.j),
	}
	if expInt > 0 && lostInt > 0 {
		b.FractionLost = uint8(min(lostInt<<8/expInt, 255))
	}
	if !s.lastSRAt.IsZero() && s.srSSRC == s.rxSSRC {
		b.LastSenderReport = s.lastSR
		b.Delay = uint32(now.Sub(s.lastSRAt).Seconds() * 65536)
	}
	return b
}

// Handle reads a compound packet from the far end, received at arrival.
func (s *RTCP) Handle(pkts []rtcp.Packet, arrival time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.PacketsReceived++
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.SenderReport:
			if p.SSRC == s.ssrc {
				continue // our own, looped back
			}
			s.srSSRC, s.lastSR, s.lastSRAt = p.SSRC, uint32(p.NTPTime>>16), arrival
			s.stats.RemoteSRs++
			s.stats.RemotePacketsSent, s.stats.RemoteOctetsSent = int(p.PacketCount), int(p.OctetCount)
			s.blocks(p.Reports, arrival)
		case *rtcp.ReceiverReport:
			if p.SSRC != s.ssrc {
				s.blocks(p.Reports, arrival)
			}
		}
	}
}

// blocks takes the far end's reception blocks about our stream; the caller
// holds s.mu.
func (s *RTCP) blocks(bs []rtcp.ReceptionReport, arrival time.Time) {
	for _, b := range bs {
		if b.SSRC != s.ssrc {
			continue
		}
		st := &s.stats
		st.Reports++
		st.FractionLost = float64(b.FractionLost) / 256
		st.CumulativeLost = int(int32(b.TotalLost<<8) >> 8) // 24-bit signed
		if s.sending {
			st.Expected = int(int64(b.LastSequenceNumber) - int64(s.firstSeq) + 1)
		}
		if s.rate > 0 {
			st.JitterMS = float64(b.Jitter) / float64(s.rate) * 1000
		}
		if b.LastSenderReport == 0 {
			continue
		}
		rtt := RoundTrip(uint32(NTPTime(arrival)>>16), b.LastSenderReport, b.Delay)
		if rtt < 0 {
			// A - LSR - DLSR just below 0: the 1/65536 s rounding on a
			// path faster than that. It is a round trip of about 0.
			rtt = 0
		}
		v := float64(rtt) / float64(time.Millisecond)
		st.RTTCount++
		st.RTTLastMS = v
		st.RTTMaxMS = max(st.RTTMaxMS, v)
		s.rttSumMS += v
		st.RTTMeanMS = s.rttSumMS / float64(st.RTTCount)
	}
}

// Stats returns the figures so far.
func (s *RTCP) Stats() RTCPStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.PacketsSent = int(s.packets)
	return st
}

// ntpEpochOffset is the number of seconds from 1900 (NTP) to 1970 (Unix).
const ntpEpochOffset = 2208988800

// NTPTime returns t as a 64-bit NTP timestamp (RFC 3550 4): seconds since
// 1900 in the high 32 bits, the fraction in the low 32.
func NTPTime(t time.Time) uint64 {
	secs := uint64(t.Unix() + ntpEpochOffset)
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return secs<<32 | frac
}

// RoundTrip is RFC 3550 6.4.1's round-trip time A - LSR - DLSR, all three
// in the middle 32 bits of NTP time (1/65536 s units); A is when the
// reception report arrived. It is negative when the report is inconsistent.
func RoundTrip(a, lsr, dlsr uint32) time.Duration {
	v := int64(int32(a - lsr - dlsr))
	return time.Duration(v * int64(time.Second) / 65536)
}
