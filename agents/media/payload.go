package media

import (
	"encoding/binary"
	"math"
	"time"
)

// MarkSize is the size of the mark at the start of every payload: magic
// (4 bytes), stream tag (8), packet counter (4), send time in unix ns (8).
const MarkSize = 24

const markMagic = 0x474E544C // "GNTL"

// Mark identifies a packet: which stream (Tag), which packet of it
// (Counter), and when it was sent.
type Mark struct {
	Tag     uint64
	Counter uint32
	Sent    time.Time
}

// AppendPayload appends a payload for codec c to dst: the mark, then bytes
// that depend only on (c, tag, counter), up to c.PayloadSize (at least
// MarkSize). For G.711 the bytes are a 1 kHz tone, u-law or A-law encoded by
// sample index; for others a pseudo-random stream.
func AppendPayload(dst []byte, c Codec, m Mark) []byte {
	size := max(c.PayloadSize, MarkSize)
	start := len(dst)
	dst = append(dst, make([]byte, size)...)
	p := dst[start:]
	binary.BigEndian.PutUint32(p[0:], markMagic)
	binary.BigEndian.PutUint64(p[4:], m.Tag)
	binary.BigEndian.PutUint32(p[12:], m.Counter)
	binary.BigEndian.PutUint64(p[16:], uint64(m.Sent.UnixNano()))
	fill(p[MarkSize:], c, m.Tag, m.Counter)
	return dst
}

// ParseMark reads the mark at the start of a payload.
func ParseMark(p []byte) (Mark, bool) {
	if len(p) < MarkSize || binary.BigEndian.Uint32(p) != markMagic {
		return Mark{}, false
	}
	return Mark{
		Tag:     binary.BigEndian.Uint64(p[4:]),
		Counter: binary.BigEndian.Uint32(p[12:]),
		Sent:    time.Unix(0, int64(binary.BigEndian.Uint64(p[16:]))),
	}, true
}

// CheckPayload reports whether p is exactly what AppendPayload makes for
// codec c and p's own mark, and returns that mark.
func CheckPayload(c Codec, p []byte) (Mark, bool) {
	m, ok := ParseMark(p)
	if !ok || len(p) != max(c.PayloadSize, MarkSize) {
		return m, false
	}
	rest := p[MarkSize:]
	var want [256]byte
	for off := 0; off < len(rest); off += len(want) {
		n := min(len(want), len(rest)-off)
		fillAt(want[:n], c, m.Tag, m.Counter, MarkSize+off)
		if string(want[:n]) != string(rest[off:off+n]) {
			return m, false
		}
	}
	return m, true
}

func fill(dst []byte, c Codec, tag uint64, counter uint32) { fillAt(dst, c, tag, counter, MarkSize) }

// fillAt writes the payload bytes from byte offset pos of the payload on.
func fillAt(dst []byte, c Codec, tag uint64, counter uint32, pos int) {
	switch c.Name {
	case PCMU.Name, PCMA.Name:
		table := &ulawTone
		if c.Name == PCMA.Name {
			table = &alawTone
		}
		// One byte is one sample; the packet's first sample has index
		// counter*FrameTicks.
		base := uint64(counter)*uint64(c.FrameTicks) + uint64(pos)
		for i := range dst {
			dst[i] = table[(base+uint64(i))%toneperiod]
		}
	default:
		// splitmix64 keyed by (tag, counter), positioned at pos.
		state := tag ^ uint64(counter)*0x9E3779B97F4A7C15
		state += uint64(pos/8) * 0x9E3779B97F4A7C15
		skip := pos % 8
		for i := 0; i < len(dst); {
			state += 0x9E3779B97F4A7C15
			z := state
			z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
			z = (z ^ (z >> 27)) * 0x94D049BB133111EB
			z ^= z >> 31
			var w [8]byte
			binary.LittleEndian.PutUint64(w[:], z)
			i += copy(dst[i:], w[skip:])
			skip = 0
		}
	}
}

// The test tone: 1 kHz at 8 kHz sampling is 8 samples per period, at about
// -6 dBFS.
const (
	toneperiod    = 8
	toneAmplitude = 16000
)

var ulawTone, alawTone = func() (u, a [toneperiod]byte) {
	for i := range toneperiod {
		s := int16(math.Round(toneAmplitude * math.Sin(2*math.Pi*float64(i)/toneperiod)))
		u[i] = LinearToULaw(s)
		a[i] = LinearToALaw(s)
	}
	return u, a
}()

// LinearToULaw encodes a 16-bit linear sample as G.711 u-law.
func LinearToULaw(sample int16) byte {
	const bias, clip = 0x84, 32635
	s := int32(sample)
	sign := byte(0)
	if s < 0 {
		s = -s
		sign = 0x80
	}
	s = min(s, clip) + bias
	exp := byte(7)
	for mask := int32(0x4000); exp > 0 && s&mask == 0; mask >>= 1 {
		exp--
	}
	mant := byte(s>>(exp+3)) & 0x0F
	return ^(sign | exp<<4 | mant)
}

// LinearToALaw encodes a 16-bit linear sample as G.711 A-law.
func LinearToALaw(sample int16) byte {
	s := int32(sample) >> 3 // 13-bit
	mask := byte(0xD5)
	if s < 0 {
		mask = 0x55
		s = -s - 1
	}
	seg := byte(0)
	for end := int32(0x1F); seg < 8 && s > end; end = end<<1 | 1 {
		seg++
	}
	if seg >= 8 {
		return 0x7F ^ mask
	}
	v := seg << 4
	if seg < 2 {
		v |= byte(s>>1) & 0x0F
	} else {
		v |= byte(s>>seg) & 0x0F
	}
	return v ^ mask
}
