package gateway

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// codec is one audio codec as an SDP rtpmap names it, with the payload type
// one side uses for it.
type codec struct {
	Name     string // canonical spelling: "opus", "PCMU", "PCMA", "telephone-event"
	Clock    uint32
	Channels uint16 // 0 when the rtpmap gives none (means 1)
	PT       uint8
	Fmtp     string
}

// String returns the rtpmap form, e.g. "opus/48000/2" or "PCMU/8000".
func (c codec) String() string {
	s := c.Name + "/" + strconv.FormatUint(uint64(c.Clock), 10)
	if c.Channels > 1 {
		s += "/" + strconv.FormatUint(uint64(c.Channels), 10)
	}
	return s
}

// MimeType returns the codec's MIME type as pion spells it.
func (c codec) MimeType() string { return "audio/" + c.Name }

func (c codec) same(o codec) bool {
	ch := func(n uint16) uint16 { return max(n, 1) }
	return strings.EqualFold(c.Name, o.Name) && c.Clock == o.Clock && ch(c.Channels) == ch(o.Channels)
}

func (c codec) isDTMF() bool { return strings.EqualFold(c.Name, dtmfName) }

const dtmfName = "telephone-event"

// supportedCodecs are the codecs the gateway relays (no transcoding).
var supportedCodecs = []codec{
	{Name: "opus", Clock: 48000, Channels: 2, PT: 111, Fmtp: "minptime=10;useinbandfec=1"},
	{Name: "PCMU", Clock: 8000, PT: 0},
	{Name: "PCMA", Clock: 8000, PT: 8},
}

// dtmfCodecs are the RFC 4733 telephone-event rates the gateway relays.
var dtmfCodecs = []codec{
	{Name: dtmfName, Clock: 8000, PT: 101, Fmtp: "0-16"},
	{Name: dtmfName, Clock: 48000, PT: 110, Fmtp: "0-16"},
}

// staticCodecs are the RFC 3551 payload types an SDP may use without rtpmap.
var staticCodecs = map[uint8]codec{
	0: {Name: "PCMU", Clock: 8000},
	8: {Name: "PCMA", Clock: 8000},
}

// sdpError is a refused SDP: Err is one of the ErrSDP* sentinels, Detail
// says what was wrong (it goes into the SIP Warning header).
type sdpError struct {
	Err    error
	Detail string
}

func (e *sdpError) Error() string { return e.Err.Error() + ": " + e.Detail }
func (e *sdpError) Unwrap() error { return e.Err }

func refuse(sentinel error, format string, args ...any) error {
	return &sdpError{Err: sentinel, Detail: fmt.Sprintf(format, args...)}
}

// warning returns the text for a SIP Warning header explaining err.
func warning(err error) string {
	var se *sdpError
	if errors.As(err, &se) {
		return se.Error()
	}
	return err.Error()
}

// Media directions (RFC 3264 6.1).
const (
	dirSendRecv = "sendrecv"
	dirSendOnly = "sendonly"
	dirRecvOnly = "recvonly"
	dirInactive = "inactive"
)

// mirror is the direction that answers dir (RFC 3264 6.1).
func mirror(dir string) string {
	switch dir {
	case dirSendOnly:
		return dirRecvOnly
	case dirRecvOnly:
		return dirSendOnly
	}
	return dir
}

// direction reads the m-line's direction, then the session's, default
// sendrecv.
func direction(sd *sdp.SessionDescription, m *sdp.MediaDescription) string {
	for _, attrs := range [][]sdp.Attribute{m.Attributes, sd.Attributes} {
		for _, a := range attrs {
			switch a.Key {
			case dirSendRecv, dirSendOnly, dirRecvOnly, dirInactive:
				return a.Key
			}
		}
	}
	return dirSendRecv
}

// offer is a caller's offer that passed the gateway's checks.
type offer struct {
	SDP    []byte
	WebRTC bool    // UDP/TLS/RTP/SAVPF with ICE and DTLS, else plain RTP/AVP
	Codecs []codec // the offer's codecs the gateway supports, in offer order, with the offer's PTs
	DTMF   []codec // the offer's telephone-event formats
	Dir    string
	Plain  plainMedia  // for a plain offer: where RTP goes
	SDES   *cryptoAttr // for an RTP/SAVP offer: the phone's a=crypto the gateway takes
}

// common picks the offer's supported codecs and telephone-events.
func common(m *sdp.MediaDescription) (audio, dtmf []codec) {
	for _, c := range mediaCodecs(m) {
		if c.isDTMF() {
			for _, d := range dtmfCodecs {
				if c.same(d) {
					c.Name = d.Name
					dtmf = append(dtmf, c)
				}
			}
			continue
		}
		for _, s := range supportedCodecs {
			if c.same(s) {
				c.Name = s.Name
				audio = append(audio, c)
				break
			}
		}
	}
	return audio, dtmf
}

// parseWebRTCOffer checks a browser's offer: an audio m-line over
// UDP/TLS/RTP/SAVPF, ICE credentials, a SHA-256 fingerprint (MD5/MD2 ones
// are refused outright), no SDES a=crypto, and at least one codec in common.
// lax (weaken: sdp-checks) lets MD5 fingerprints and a=crypto through.
func parseWebRTCOffer(body []byte, lax bool) (offer, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return offer{}, refuse(ErrSDPSyntax, "%v", err)
	}
	audio := firstAudio(&sd)
	if audio == nil {
		return offer{}, refuse(ErrSDPNoAudio, "offer has no m=audio")
	}
	if proto := strings.Join(audio.MediaName.Protos, "/"); proto != "UDP/TLS/RTP/SAVPF" {
		return offer{}, refuse(ErrSDPNotWebRTC, "audio proto is %q", proto)
	}
	if err := checkICE(&sd, audio); err != nil {
		return offer{}, err
	}
	if err := checkFingerprints(&sd, lax); err != nil {
		return offer{}, err
	}
	if hasAttr(&sd, "crypto") && !lax {
		return offer{}, refuse(ErrSDPCrypto, "offer carries a=crypto")
	}
	codecs, dtmf := common(audio)
	if len(codecs) == 0 {
		return offer{}, refuse(ErrSDPNoCodec, "none of opus/48000/2, PCMU/8000, PCMA/8000 offered")
	}
	return offer{SDP: body, WebRTC: true, Codecs: codecs, DTMF: dtmf, Dir: direction(&sd, audio)}, nil
}

func firstAudio(sd *sdp.SessionDescription) *sdp.MediaDescription {
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media == "audio" {
			return m
		}
	}
	return nil
}

// attr returns a media-level attribute, falling back to the session level.
func attr(sd *sdp.SessionDescription, m *sdp.MediaDescription, key string) (string, bool) {
	if v, ok := m.Attribute(key); ok {
		return v, true
	}
	return sd.Attribute(key)
}

func hasAttr(sd *sdp.SessionDescription, key string) bool {
	if _, ok := sd.Attribute(key); ok {
		return true
	}
	for _, m := range sd.MediaDescriptions {
		if _, ok := m.Attribute(key); ok {
			return true
		}
	}
	return false
}

// checkICE enforces RFC 8839 5.4: ufrag 4-256 and pwd 22-256 ice-chars.
func checkICE(sd *sdp.SessionDescription, m *sdp.MediaDescription) error {
	ufrag, okU := attr(sd, m, "ice-ufrag")
	pwd, okP := attr(sd, m, "ice-pwd")
	switch {
	case !okU || !okP:
		return refuse(ErrSDPNoICE, "ice-ufrag or ice-pwd missing")
	case !iceChars(ufrag, 4, 256):
		return refuse(ErrSDPNoICE, "ice-ufrag must be 4-256 ice-chars")
	case !iceChars(pwd, 22, 256):
		return refuse(ErrSDPNoICE, "ice-pwd must be 22-256 ice-chars")
	}
	return nil
}

func iceChars(s string, minLen, maxLen int) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for _, ch := range s {
		if !isAlnum(ch) && ch != '+' && ch != '/' {
			return false
		}
	}
	return true
}

// checkFingerprints wants one well-formed sha-256 fingerprint and refuses
// MD5/MD2 ones anywhere (pion would accept them; CONFORMANCE.md says no).
// lax accepts an offer whose only fingerprints are MD5/MD2 or SHA-1.
func checkFingerprints(sd *sdp.SessionDescription, lax bool) error {
	var values []string
	collect := func(attrs []sdp.Attribute) {
		for _, a := range attrs {
			if a.Key == "fingerprint" {
				values = append(values, a.Value)
			}
		}
	}
	collect(sd.Attributes)
	for _, m := range sd.MediaDescriptions {
		collect(m.Attributes)
	}
	found := false
	for _, v := range values {
		hash, digest, _ := strings.Cut(strings.TrimSpace(v), " ")
		switch strings.ToLower(hash) {
		case "md5", "md2":
			if !lax {
				return refuse(ErrSDPFingerprint, "%s fingerprint refused", hash)
			}
			found = true
		case "sha-1":
			found = found || lax
		case "sha-256":
			raw, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(digest), ":", ""))
			if err != nil || len(raw) != 32 {
				return refuse(ErrSDPFingerprint, "malformed sha-256 fingerprint")
			}
			found = true
		}
	}
	if !found {
		return refuse(ErrSDPFingerprint, "no sha-256 fingerprint")
	}
	return nil
}

// mediaCodecs lists an m-line's formats that name an audio codec, in order.
func mediaCodecs(m *sdp.MediaDescription) []codec {
	rtpmaps := map[uint8]codec{}
	fmtps := map[uint8]string{}
	for _, a := range m.Attributes {
		ptText, rest, _ := strings.Cut(a.Value, " ")
		pt, err := strconv.ParseUint(ptText, 10, 7)
		if err != nil {
			continue
		}
		switch a.Key {
		case "rtpmap":
			if c, ok := parseRtpmap(strings.TrimSpace(rest)); ok {
				rtpmaps[uint8(pt)] = c
			}
		case "fmtp":
			fmtps[uint8(pt)] = strings.TrimSpace(rest)
		}
	}
	var out []codec
	for _, f := range m.MediaName.Formats {
		pt, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			continue
		}
		c, ok := rtpmaps[uint8(pt)]
		if !ok {
			c, ok = staticCodecs[uint8(pt)]
		}
		if !ok {
			continue
		}
		c.PT = uint8(pt)
		c.Fmtp = fmtps[uint8(pt)]
		out = append(out, c)
	}
	return out
}

func parseRtpmap(s string) (codec, bool) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
		return codec{}, false
	}
	clock, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil {
		return codec{}, false
	}
	c := codec{Name: parts[0], Clock: uint32(clock)}
	if len(parts) == 3 {
		ch, err := strconv.ParseUint(parts[2], 10, 16)
		if err != nil {
			return codec{}, false
		}
		c.Channels = uint16(ch)
	}
	return c, true
}

// chosen is what an answer picked: the audio codec and the telephone-event
// of the same rate, if both sides have one, each with the answerer's PT.
type chosen struct {
	Audio codec
	DTMF  *codec
}

// pick returns the answer's first format that is one of offered (with the
// answer's PT) and the telephone-event at its rate, if offered and answered.
func pick(m *sdp.MediaDescription, offered, offeredDTMF []codec) (chosen, bool) {
	answered := mediaCodecs(m)
	var ch chosen
	found := false
	for _, c := range answered {
		if c.isDTMF() {
			continue
		}
		for _, o := range offered {
			if c.same(o) {
				c.Name, found = o.Name, true
				break
			}
		}
		if found {
			ch.Audio = c
			break
		}
	}
	if !found {
		return chosen{}, false
	}
	ch.DTMF = dtmfAt(answered, ch.Audio.Clock, offeredDTMF)
	return ch, true
}

// dtmfAt returns the telephone-event among formats at clock, if offered too.
func dtmfAt(formats []codec, clock uint32, offered []codec) *codec {
	for _, c := range formats {
		if !c.isDTMF() || c.Clock != clock {
			continue
		}
		for _, o := range offered {
			if c.same(o) {
				c.Name = dtmfName
				return &c
			}
		}
	}
	return nil
}

// inOfferSpace returns ch with the offer's payload types (the answer may
// have used others for the same codecs).
func (ch chosen) inOfferSpace(offered, offeredDTMF []codec) chosen {
	out := ch
	for _, o := range offered {
		if o.same(ch.Audio) {
			out.Audio = o
			break
		}
	}
	out.DTMF = nil
	if ch.DTMF != nil {
		out.DTMF = dtmfAt(offeredDTMF, ch.Audio.Clock, offeredDTMF)
	}
	return out
}
