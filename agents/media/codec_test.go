package media_test

import (
	"errors"
	"testing"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
)

func TestLookupCodec(t *testing.T) {
	tests := []struct {
		name string
		want media.Codec
		err  bool
	}{
		{"opus", media.Opus, false},
		{"OPUS", media.Opus, false},
		{"opus/48000", media.Opus, false},
		{"opus/48000/2", media.Opus, false},
		{"pcmu", media.PCMU, false},
		{"PCMU/8000", media.PCMU, false},
		{"PCMU/8000/1", media.PCMU, false},
		{" pcma ", media.PCMA, false},
		{"PCMA/8000", media.PCMA, false},
		{"PCMU/16000", media.Codec{}, true},
		{"opus/48000/1", media.Codec{}, true},
		{"G729", media.Codec{}, true},
		{"", media.Codec{}, true},
		{"opus/48000/2/x", media.Codec{}, true},
	}
	for _, tc := range tests {
		got, err := media.LookupCodec(tc.name)
		if tc.err {
			if !errors.Is(err, media.ErrUnknownCodec) {
				t.Errorf("LookupCodec(%q): err %v, want ErrUnknownCodec", tc.name, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("LookupCodec(%q) = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestRTPMap(t *testing.T) {
	tests := []struct {
		c    media.Codec
		want string
		pt   uint8
		tick uint32
	}{
		{media.Opus, "opus/48000/2", 111, 960},
		{media.PCMU, "PCMU/8000", 0, 160},
		{media.PCMA, "PCMA/8000", 8, 160},
	}
	for _, tc := range tests {
		if got := tc.c.RTPMap(); got != tc.want || tc.c.PayloadType != tc.pt || tc.c.FrameTicks != tc.tick {
			t.Errorf("%v: rtpmap %q pt %d ticks %d; want %q %d %d", tc.c, got, tc.c.PayloadType, tc.c.FrameTicks, tc.want, tc.pt, tc.tick)
		}
	}
	other := media.Opus
	other.PayloadType = 109
	if !other.Same(media.Opus) || media.PCMU.Same(media.PCMA) {
		t.Error("Same: payload type must not matter, name must")
	}
}
