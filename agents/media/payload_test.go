package media_test

import (
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
)

func TestG711Encoders(t *testing.T) {
	tests := []struct {
		in         int16
		ulaw, alaw byte
	}{
		{0, 0xFF, 0xD5},
		{32767, 0x80, 0xAA},
		{-32768, 0x00, 0x2A},
		{-1, 0x7F, 0x55},
		{1000, 0xCE, 0xFA},
		{-1000, 0x4E, 0x7A},
	}
	for _, tc := range tests {
		if got := media.LinearToULaw(tc.in); got != tc.ulaw {
			t.Errorf("LinearToULaw(%d) = %#02x, want %#02x", tc.in, got, tc.ulaw)
		}
		if got := media.LinearToALaw(tc.in); got != tc.alaw {
			t.Errorf("LinearToALaw(%d) = %#02x, want %#02x", tc.in, got, tc.alaw)
		}
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	big := media.Codec{Name: "L16", ClockRate: 8000, PayloadSize: 1000, FrameTicks: 160}
	sent := time.Unix(1700000000, 123456789)
	for _, c := range []media.Codec{media.Opus, media.PCMU, media.PCMA, big} {
		for _, counter := range []uint32{0, 1, 4242} {
			m := media.Mark{Tag: 0xfeedface, Counter: counter, Sent: sent}
			p := media.AppendPayload(nil, c, m)
			if len(p) != c.PayloadSize {
				t.Fatalf("%v: payload %d bytes, want %d", c, len(p), c.PayloadSize)
			}
			got, ok := media.CheckPayload(c, p)
			if !ok || got.Tag != m.Tag || got.Counter != counter || !got.Sent.Equal(sent) {
				t.Fatalf("%v: CheckPayload = %+v %v", c, got, ok)
			}
			p[len(p)-1] ^= 1
			if _, ok := media.CheckPayload(c, p); ok {
				t.Fatalf("%v: a flipped bit still matched", c)
			}
			other := media.AppendPayload(nil, c, media.Mark{Tag: m.Tag, Counter: counter + 1, Sent: sent})
			if c.Name == "opus" && string(other[media.MarkSize:]) == string(p[media.MarkSize:]) {
				t.Fatalf("%v: the bytes after the mark do not depend on the counter", c)
			}
		}
	}
}

func TestG711PayloadIsTone(t *testing.T) {
	// 1 kHz at 8 kHz: 8 samples per period; sample index 24 of packet 0
	// is a zero crossing (u-law 0xFF) and index 26 the positive peak.
	p := media.AppendPayload(nil, media.PCMU, media.Mark{Tag: 1, Counter: 0, Sent: time.Unix(0, 0)})
	if p[24] != 0xFF || p[26] != media.LinearToULaw(16000) || p[30] != media.LinearToULaw(-16000) {
		t.Fatalf("u-law tone bytes % x", p[24:32])
	}
	// Packet 1 starts at sample 160 (a multiple of 8): same phase as packet 0.
	q := media.AppendPayload(nil, media.PCMU, media.Mark{Tag: 99, Counter: 1, Sent: time.Unix(0, 0)})
	if string(p[24:]) != string(q[24:]) {
		t.Fatal("tone depends on something other than the sample index")
	}
}

func TestParseMarkRejects(t *testing.T) {
	if _, ok := media.ParseMark([]byte("short")); ok {
		t.Error("short payload parsed")
	}
	if _, ok := media.ParseMark(make([]byte, 40)); ok {
		t.Error("payload without magic parsed")
	}
}
