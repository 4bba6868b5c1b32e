package gateway

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// codec is one audio codec as an SDP rtpmap names it, with the payload type
// one side uses for it.
type codec struct {
	Name     string // canonical spelling: "opus", "PCMU", "PCMA"
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

// supportedCodecs are the codecs the gateway relays (no transcoding).
var supportedCodecs = []codec{
	{Name: "opus", Clock: 48000, Channels: 2, PT: 111, Fmtp: "minptime=10;useinbandfec=1"},
	{Name: "PCMU", Clock: 8000, PT: 0},
	{Name: "PCMA", Clock: 8000, PT: 8},
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

// webrtcOffer is a browser's offer that passed the gateway's checks.
type webrtcOffer struct {
	SDP    string
	Codecs []codec // the offer's codecs the gateway supports, in offer order, with the offer's PTs
}

// parseWebRTCOffer checks a browser's offer: an audio m-line over
// UDP/TLS/RTP/SAVPF, ICE credentials, a SHA-256 fingerprint (MD5/MD2 ones
// are refused outright), no SDES a=crypto, and at least one codec in common.
func parseWebRTCOffer(body []byte) (webrtcOffer, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return webrtcOffer{}, refuse(ErrSDPSyntax, "%v", err)
	}
	audio := firstAudio(&sd)
	if audio == nil {
		return webrtcOffer{}, refuse(ErrSDPNoAudio, "offer has no m=audio")
	}
	if proto := strings.Join(audio.MediaName.Protos, "/"); proto != "UDP/TLS/RTP/SAVPF" {
		return webrtcOffer{}, refuse(ErrSDPNotWebRTC, "audio proto is %q", proto)
	}
	if err := checkICE(&sd, audio); err != nil {
		return webrtcOffer{}, err
	}
	if err := checkFingerprints(&sd); err != nil {
		return webrtcOffer{}, err
	}
	if hasAttr(&sd, "crypto") {
		return webrtcOffer{}, refuse(ErrSDPCrypto, "offer carries a=crypto")
	}
	offered := mediaCodecs(audio)
	var common []codec
	for _, c := range offered {
		for _, s := range supportedCodecs {
			if c.same(s) {
				c.Name = s.Name
				common = append(common, c)
				break
			}
		}
	}
	if len(common) == 0 {
		return webrtcOffer{}, refuse(ErrSDPNoCodec, "none of opus/48000/2, PCMU/8000, PCMA/8000 offered")
	}
	return webrtcOffer{SDP: string(body), Codecs: common}, nil
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
func checkFingerprints(sd *sdp.SessionDescription) error {
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
			return refuse(ErrSDPFingerprint, "%s fingerprint refused", hash)
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

// phoneOffer renders the plain RTP/AVP offer sent to a phone: the codecs
// (with the browser's payload types), no ICE, DTLS or rtcp-fb attributes.
func phoneOffer(ip net.IP, port int, codecs []codec, sessionID uint64) []byte {
	var b strings.Builder
	line := func(format string, args ...any) {
		fmt.Fprintf(&b, format, args...)
		b.WriteString("\r\n")
	}
	line("v=0")
	line("o=gauntlet %d %d IN IP4 %s", sessionID, sessionID, ip)
	line("s=gauntlet")
	line("c=IN IP4 %s", ip)
	line("t=0 0")
	pts := make([]string, len(codecs))
	for i, c := range codecs {
		pts[i] = strconv.Itoa(int(c.PT))
	}
	line("m=audio %d RTP/AVP %s", port, strings.Join(pts, " "))
	for _, c := range codecs {
		line("a=rtpmap:%d %s", c.PT, c)
		if c.Fmtp != "" {
			line("a=fmtp:%d %s", c.PT, c.Fmtp)
		}
	}
	line("a=sendrecv")
	return []byte(b.String())
}

// phoneAnswer is what the gateway takes from a phone's RTP/AVP answer.
type phoneAnswer struct {
	Addr    *net.UDPAddr // where the phone wants RTP
	Phone   codec        // the chosen codec with the phone's payload type
	Browser codec        // the same codec with the browser's payload type
}

// parsePhoneAnswer reads a phone's answer to phoneOffer: the first answered
// format that is one of offered wins.
func parsePhoneAnswer(body []byte, offered []codec) (phoneAnswer, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return phoneAnswer{}, refuse(ErrSDPSyntax, "%v", err)
	}
	audio := firstAudio(&sd)
	if audio == nil {
		return phoneAnswer{}, refuse(ErrSDPNoAudio, "answer has no m=audio")
	}
	if proto := strings.Join(audio.MediaName.Protos, "/"); proto != "RTP/AVP" {
		return phoneAnswer{}, refuse(ErrSDPNotRTPAVP, "audio proto is %q", proto)
	}
	port := audio.MediaName.Port.Value
	if port <= 0 || port > 65535 {
		return phoneAnswer{}, refuse(ErrSDPNoConnection, "audio port %d", port)
	}
	conn := audio.ConnectionInformation
	if conn == nil {
		conn = sd.ConnectionInformation
	}
	if conn == nil || conn.Address == nil || conn.NetworkType != "IN" || conn.AddressType != "IP4" {
		return phoneAnswer{}, refuse(ErrSDPNoConnection, "no IN IP4 c= line")
	}
	ip := net.ParseIP(conn.Address.Address).To4()
	if ip == nil || ip.IsUnspecified() {
		return phoneAnswer{}, refuse(ErrSDPNoConnection, "c= address %q is not a usable IPv4 address", conn.Address.Address)
	}
	for _, c := range mediaCodecs(audio) {
		for _, o := range offered {
			if c.same(o) {
				c.Name = o.Name
				return phoneAnswer{Addr: &net.UDPAddr{IP: ip, Port: port}, Phone: c, Browser: o}, nil
			}
		}
	}
	return phoneAnswer{}, refuse(ErrSDPNoCodec, "answer picks no offered codec")
}
