package endpoint

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// ErrNoDTMF is returned by SendDTMF when no telephone-event was negotiated.
var ErrNoDTMF = errors.New("endpoint: no telephone-event negotiated")

// dtmfEvents are the RFC 4733 3.2 event codes of the DTMF digits.
const dtmfEvents = "0123456789*#ABCD"

// dtmfState is a leg's telephone-event: the negotiated payload type (-1:
// none), the digits received, and the renumbering writer that puts sent
// events in the audio's sequence space. Guarded by Leg.mu.
type dtmfState struct {
	pt     int
	clock  uint32
	digits []byte
	ended  map[uint32]bool // event timestamps whose end was seen
	out    *rtpOut
}

// offerCodecs is what Dial offers: the codecs, and with DTMF a
// telephone-event at each of their rates.
func (e *Endpoint) offerCodecs() []media.Codec {
	out := slices.Clone(e.cfg.Codecs)
	if !e.cfg.DTMF {
		return out
	}
	seen := map[uint32]bool{}
	for _, c := range e.cfg.Codecs {
		if seen[c.ClockRate] {
			continue
		}
		seen[c.ClockRate] = true
		pt := uint8(101)
		if c.ClockRate != 8000 {
			pt = 110
		}
		out = append(out, media.Codec{Name: "telephone-event", ClockRate: c.ClockRate, PayloadType: pt, Fmtp: "0-16"})
	}
	return out
}

// tePT finds the telephone-event payload type at clock in an SDP, or -1.
func tePT(raw []byte, clock uint32) int {
	var sd sdp.SessionDescription
	if sd.Unmarshal(raw) != nil {
		return -1
	}
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		for _, a := range m.Attributes {
			pt, rest, ok := strings.Cut(a.Value, " ")
			if a.Key != "rtpmap" || !ok || !strings.EqualFold(strings.TrimSpace(rest), "telephone-event/"+strconv.Itoa(int(clock))) {
				continue
			}
			if n, err := strconv.Atoi(pt); err == nil && slices.Contains(m.MediaName.Formats, pt) {
				return n
			}
		}
	}
	return -1
}

// answerDTMF adds to an answer the offer's telephone-event at the chosen
// codec's rate, when DTMF is on (the media legs answer with one codec).
func (e *Endpoint) answerDTMF(answer, offer []byte, codec media.Codec) []byte {
	if !e.cfg.DTMF {
		return answer
	}
	pt := tePT(offer, codec.ClockRate)
	if pt < 0 || tePT(answer, codec.ClockRate) >= 0 {
		return answer
	}
	var sd sdp.SessionDescription
	if sd.Unmarshal(answer) != nil || len(sd.MediaDescriptions) == 0 {
		return answer
	}
	m := sd.MediaDescriptions[0]
	m.MediaName.Formats = append(m.MediaName.Formats, strconv.Itoa(pt))
	m.WithValueAttribute("rtpmap", fmt.Sprintf("%d telephone-event/%d", pt, codec.ClockRate))
	m.WithValueAttribute("fmtp", fmt.Sprintf("%d 0-16", pt))
	out, err := sd.Marshal()
	if err != nil {
		return answer
	}
	return out
}

// negotiated records our SDP and the far end's telephone-event.
func (l *Leg) negotiated(local, remote []byte, codec media.Codec) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.local, l.remote = local, remote
	l.dtmf.pt, l.dtmf.clock = -1, codec.ClockRate
	if l.e.cfg.DTMF {
		l.dtmf.pt = tePT(remote, codec.ClockRate)
	}
}

// writer is what the audio sender writes to: the media leg, through the
// renumbering writer when DTMF is on.
func (l *Leg) writer() func(*rtp.Packet) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dtmf.pt < 0 {
		return l.sess.WriteRTP
	}
	l.dtmf.out = &rtpOut{send: l.sess.WriteRTP}
	return l.dtmf.out.write
}

// rtpOut numbers every packet of the stream, audio and events, in one
// sequence space (they share the SSRC, so SRTP wants that).
type rtpOut struct {
	send func(*rtp.Packet) error

	mu      sync.Mutex
	seq     uint16
	started bool
	lastTS  uint32
	ssrc    uint32
}

func (o *rtpOut) write(p *rtp.Packet) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.writeLocked(p, true)
}

func (o *rtpOut) writeLocked(p *rtp.Packet, audio bool) error {
	if !o.started {
		o.seq, o.started = p.SequenceNumber, true
	}
	q := *p
	q.SequenceNumber = o.seq
	o.seq++
	if audio {
		o.lastTS, o.ssrc = q.Timestamp, q.SSRC
	}
	return o.send(&q)
}

// SendDTMF sends digits as RFC 4733 telephone-events: for each, three
// packets 20 ms apart (the first with the marker bit) and three end
// packets, then a 60 ms pause. It returns once all are sent.
func (l *Leg) SendDTMF(ctx context.Context, digits string) error {
	l.mu.Lock()
	out, pt, clock := l.dtmf.out, l.dtmf.pt, l.dtmf.clock
	l.mu.Unlock()
	if out == nil || pt < 0 {
		return ErrNoDTMF
	}
	step := clock / 50 // 20 ms of timestamp
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for _, d := range digits {
		code := strings.IndexRune(dtmfEvents, d)
		if code < 0 {
			return fmt.Errorf("endpoint: %q is not a DTMF digit", d)
		}
		out.mu.Lock()
		start := out.lastTS + step
		out.mu.Unlock()
		for i := 1; i <= 6; i++ {
			end := i > 3
			dur := step * uint32(min(i, 3))
			payload := make([]byte, 4)
			payload[0] = byte(code)
			payload[1] = 10 // volume -10 dBm0
			if end {
				payload[1] |= 0x80
			}
			binary.BigEndian.PutUint16(payload[2:], uint16(dur))
			out.mu.Lock()
			p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: uint8(pt), Marker: i == 1, Timestamp: start, SSRC: out.ssrc}, Payload: payload}
			err := out.writeLocked(p, false)
			out.mu.Unlock()
			if err != nil {
				return fmt.Errorf("endpoint: DTMF %q: %w", d, err)
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		for range 3 {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// observeDTMF records the digit of each telephone-event whose end arrives.
func (l *Leg) observeDTMF(pkt *rtp.Packet) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dtmf.pt < 0 || int(pkt.PayloadType) != l.dtmf.pt || len(pkt.Payload) < 4 || pkt.Payload[1]&0x80 == 0 {
		return
	}
	if l.dtmf.ended == nil {
		l.dtmf.ended = map[uint32]bool{}
	}
	if l.dtmf.ended[pkt.Timestamp] || int(pkt.Payload[0]) >= len(dtmfEvents) {
		return
	}
	l.dtmf.ended[pkt.Timestamp] = true
	l.dtmf.digits = append(l.dtmf.digits, dtmfEvents[pkt.Payload[0]])
}

// Digits returns the DTMF digits received so far.
func (l *Leg) Digits() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.dtmf.digits)
}
