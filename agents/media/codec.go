// Package media holds what an agent's audio is made of: the codecs, payloads
// that carry a mark so the far end can check what arrived, the RTP sender and
// receiver (RFC 3550 loss and jitter, one-way delay from the marks) and the
// one pacing clock all streams of a process share.
package media

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrUnknownCodec is wrapped by LookupCodec for a name it does not know.
var ErrUnknownCodec = errors.New("media: unknown codec")

// FrameDuration is the packetization time of every codec here (ptime 20).
const FrameDuration = 20 * time.Millisecond

// Codec is an audio codec as RTP and SDP see it.
type Codec struct {
	Name        string // encoding name as in rtpmap: "opus", "PCMU", "PCMA"
	ClockRate   uint32
	Channels    uint16 // as in rtpmap; 0 or 1 means mono (omitted from rtpmap)
	PayloadType uint8
	FrameTicks  uint32 // RTP timestamp increment per 20 ms packet
	PayloadSize int    // bytes of payload per packet
	Fmtp        string // a=fmtp parameters, if any
}

// The codecs agents offer.
var (
	Opus = Codec{Name: "opus", ClockRate: 48000, Channels: 2, PayloadType: 111, FrameTicks: 960, PayloadSize: 80,
		Fmtp: "minptime=10;useinbandfec=1"}
	PCMU = Codec{Name: "PCMU", ClockRate: 8000, Channels: 1, PayloadType: 0, FrameTicks: 160, PayloadSize: 160}
	PCMA = Codec{Name: "PCMA", ClockRate: 8000, Channels: 1, PayloadType: 8, FrameTicks: 160, PayloadSize: 160}
)

// Codecs lists every known codec, in default offer order.
func Codecs() []Codec { return []Codec{Opus, PCMU, PCMA} }

// LookupCodec finds a codec by name, case-insensitively: "opus", "pcmu",
// "PCMA", or an rtpmap form such as "opus/48000/2" or "PCMU/8000" (whose
// rate and channels must then match).
func LookupCodec(name string) (Codec, error) {
	parts := strings.Split(strings.TrimSpace(name), "/")
	if len(parts) > 3 {
		return Codec{}, fmt.Errorf("%w: %q", ErrUnknownCodec, name)
	}
	for _, c := range Codecs() {
		if !strings.EqualFold(parts[0], c.Name) {
			continue
		}
		if len(parts) > 1 && parts[1] != strconv.FormatUint(uint64(c.ClockRate), 10) {
			return Codec{}, fmt.Errorf("%w: %q (%s runs at %d Hz)", ErrUnknownCodec, name, c.Name, c.ClockRate)
		}
		if len(parts) > 2 && parts[2] != strconv.Itoa(int(c.channels())) {
			return Codec{}, fmt.Errorf("%w: %q (%s has %d channels)", ErrUnknownCodec, name, c.Name, c.channels())
		}
		return c, nil
	}
	return Codec{}, fmt.Errorf("%w: %q", ErrUnknownCodec, name)
}

func (c Codec) channels() uint16 {
	if c.Channels == 0 {
		return 1
	}
	return c.Channels
}

// RTPMap returns the rtpmap encoding: "opus/48000/2", "PCMU/8000".
func (c Codec) RTPMap() string {
	s := c.Name + "/" + strconv.FormatUint(uint64(c.ClockRate), 10)
	if c.channels() > 1 {
		s += "/" + strconv.Itoa(int(c.channels()))
	}
	return s
}

// String returns the rtpmap encoding.
func (c Codec) String() string { return c.RTPMap() }

// IsZero reports whether c is the zero Codec (no codec negotiated).
func (c Codec) IsZero() bool { return c.Name == "" }

// Same reports whether c and o are the same codec (name, rate, channels),
// whatever their payload types.
func (c Codec) Same(o Codec) bool {
	return strings.EqualFold(c.Name, o.Name) && c.ClockRate == o.ClockRate && c.channels() == o.channels()
}
