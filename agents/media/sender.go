package media

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// Sender makes one RTP stream: a random SSRC, initial sequence number and
// timestamp, one packet per Tick with the timestamp advanced by the codec's
// frame ticks, each payload marked (AppendPayload) with the stream's tag and
// a packet counter. It hands packets to a send function, which must not keep
// the packet or its payload after it returns. Safe for concurrent use.
type Sender struct {
	codec Codec
	send  func(*rtp.Packet) error
	tag   uint64
	ssrc  uint32

	mu      sync.Mutex
	origin  time.Time // first scheduled tick, and the RTP timestamp then
	ts0     uint32
	pkt     rtp.Packet
	buf     []byte
	counter uint32
	err     error
	muted   bool // a=recvonly or a=inactive toward the far end: ticks send nothing
	resumed bool // the next packet starts a talkspurt after a mute

	sent   atomic.Int64
	failed atomic.Int64
}

// NewSender returns a Sender for codec c (payload type c.PayloadType, which
// should be the negotiated one).
func NewSender(c Codec, send func(*rtp.Packet) error) *Sender {
	s := &Sender{codec: c, send: send, tag: rand.Uint64() | 1, ssrc: rand.Uint32()}
	s.pkt.Header = rtp.Header{
		Version:        2,
		PayloadType:    c.PayloadType,
		SequenceNumber: uint16(rand.Uint32()),
		Timestamp:      rand.Uint32(),
		SSRC:           s.ssrc,
	}
	return s
}

// Tick sends one packet, marked with the current time; a send error is
// counted and kept (Err). It lets a Sender run on the Clock. A muted Sender
// sends nothing, and its sequence numbers and marks do not move (nothing
// was lost); its timestamps go on with the clock.
// The RTP timestamp follows the scheduled time, as a real audio source's
// sampling clock does: a tick the clock had to skip leaves a timestamp gap
// rather than pulling every later packet's timestamp behind real time
// (which a receiver would see as ever-growing transit, i.e. late packets).
func (s *Sender) Tick(scheduled time.Time) {
	s.mu.Lock()
	if s.origin.IsZero() {
		s.origin, s.ts0 = scheduled, s.pkt.Timestamp
	} else if frames := scheduled.Sub(s.origin).Round(FrameDuration) / FrameDuration; frames > 0 {
		s.pkt.Timestamp = s.ts0 + uint32(frames)*s.codec.FrameTicks
	}
	muted := s.muted
	s.mu.Unlock()
	if !muted {
		_ = s.SendAt(time.Now())
	}
}

// SetMuted stops (true) or resumes (false) the packets Tick sends, as a
// party does while the SDP direction it agreed to says it must not send
// (RFC 3264 5.1, 8.4: a=recvonly or a=inactive). The first packet after a
// mute carries the marker bit, as the start of a talkspurt (RFC 3551 4.1).
func (s *Sender) SetMuted(muted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.muted && !muted {
		s.resumed = true
	}
	s.muted = muted
}

// SendAt sends one packet whose mark carries send time now, and returns the
// send function's error (also counted and kept, see Err).
func (s *Sender) SendAt(now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = AppendPayload(s.buf[:0], s.codec, Mark{Tag: s.tag, Counter: s.counter, Sent: now})
	s.pkt.Payload = s.buf
	s.pkt.Marker = s.counter == 0 || s.resumed
	s.resumed = false
	err := s.send(&s.pkt)
	s.counter++
	s.pkt.SequenceNumber++
	s.pkt.Timestamp += s.codec.FrameTicks
	if err != nil {
		s.failed.Add(1)
		if s.err == nil {
			s.err = err
		}
		return err
	}
	s.sent.Add(1)
	return nil
}

// Sent returns how many packets the send function accepted.
func (s *Sender) Sent() int { return int(s.sent.Load()) }

// Failed returns how many packets the send function refused.
func (s *Sender) Failed() int { return int(s.failed.Load()) }

// Err returns the first send error, if any.
func (s *Sender) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Tag returns the stream tag every payload's mark carries.
func (s *Sender) Tag() uint64 { return s.tag }

// SSRC returns the stream's SSRC.
func (s *Sender) SSRC() uint32 { return s.ssrc }

// Codec returns the codec the stream sends.
func (s *Sender) Codec() Codec { return s.codec }
