package media

import (
	"errors"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// CodecsFromSDP returns the m-line's formats that name a codec this package
// knows, in order, each with the payload type and fmtp the SDP gave it.
func CodecsFromSDP(m *sdp.MediaDescription) []Codec {
	rtpmaps := map[string]string{}
	fmtps := map[string]string{}
	for _, a := range m.Attributes {
		pt, rest, ok := strings.Cut(a.Value, " ")
		if !ok {
			continue
		}
		switch a.Key {
		case "rtpmap":
			rtpmaps[pt] = strings.TrimSpace(rest)
		case "fmtp":
			fmtps[pt] = strings.TrimSpace(rest)
		}
	}
	var out []Codec
	for _, f := range m.MediaName.Formats {
		pt, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			continue
		}
		name, ok := rtpmaps[f]
		if !ok { // static payload types (RFC 3551) may omit rtpmap
			switch pt {
			case 0:
				name = "PCMU/8000"
			case 8:
				name = "PCMA/8000"
			default:
				continue
			}
		}
		c, err := LookupCodec(name)
		if err != nil {
			continue
		}
		c.PayloadType = uint8(pt)
		if v, ok := fmtps[f]; ok {
			c.Fmtp = v
		}
		out = append(out, c)
	}
	return out
}

// PickCodec returns the first of theirs (their preference) that is one of
// ours, with their payload type.
func PickCodec(theirs, ours []Codec) (Codec, bool) {
	for _, t := range theirs {
		for _, o := range ours {
			if t.Same(o) {
				return t, true
			}
		}
	}
	return Codec{}, false
}

// AudioSection parses a session description and returns it with its first
// audio m-line, or an error saying why there is none.
func AudioSection(b []byte) (*sdp.SessionDescription, *sdp.MediaDescription, error) {
	var s sdp.SessionDescription
	if err := s.Unmarshal(b); err != nil {
		return nil, nil, err
	}
	for _, md := range s.MediaDescriptions {
		if md.MediaName.Media == "audio" {
			return &s, md, nil
		}
	}
	return nil, nil, errors.New("no audio m-line")
}
