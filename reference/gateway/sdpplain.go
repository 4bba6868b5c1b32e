package gateway

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// plainMedia is where a plain RTP/AVP party wants RTP: nil Addr when it
// holds the call with c=0.0.0.0 (RFC 2543 style).
type plainMedia struct {
	Addr *net.UDPAddr
	// RTCP is where it wants RTCP: its a=rtcp (RFC 3605), else the RTP
	// port + 1 (RFC 3550 11); nil with Addr.
	RTCP *net.UDPAddr
	// Mux: its description has a=rtcp-mux (RFC 5761), so RTCP shares the
	// RTP port when the gateway agrees.
	Mux bool
}

// readPlain reads the audio m-line of an RTP/AVP description (RTP/SAVP
// when savp: SDES-SRTP is required): transport, connection address and
// port, direction. A c=0.0.0.0 or port 0 is a hold with no address when
// hold is allowed (re-INVITEs), else refused.
func readPlain(body []byte, hold, savp bool) (*sdp.SessionDescription, *sdp.MediaDescription, plainMedia, string, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return nil, nil, plainMedia{}, "", refuse(ErrSDPSyntax, "%v", err)
	}
	audio := firstAudio(&sd)
	if audio == nil {
		return nil, nil, plainMedia{}, "", refuse(ErrSDPNoAudio, "no m=audio")
	}
	switch proto := strings.Join(audio.MediaName.Protos, "/"); {
	case savp && proto != "RTP/SAVP":
		return nil, nil, plainMedia{}, "", refuse(ErrSDPNotSAVP, "audio proto is %q", proto)
	case !savp && proto != "RTP/AVP":
		return nil, nil, plainMedia{}, "", refuse(ErrSDPNotRTPAVP, "audio proto is %q", proto)
	}
	dir := direction(&sd, audio)
	port := audio.MediaName.Port.Value
	if port < 0 || port > 65535 || (port == 0 && !hold) {
		return nil, nil, plainMedia{}, "", refuse(ErrSDPNoConnection, "audio port %d", port)
	}
	conn := audio.ConnectionInformation
	if conn == nil {
		conn = sd.ConnectionInformation
	}
	if conn == nil || conn.Address == nil || conn.NetworkType != "IN" || conn.AddressType != "IP4" {
		return nil, nil, plainMedia{}, "", refuse(ErrSDPNoConnection, "no IN IP4 c= line")
	}
	ip := net.ParseIP(conn.Address.Address).To4()
	switch {
	case ip == nil:
		return nil, nil, plainMedia{}, "", refuse(ErrSDPNoConnection, "c= address %q is not an IPv4 address", conn.Address.Address)
	case ip.IsUnspecified() || port == 0:
		if !hold {
			return nil, nil, plainMedia{}, "", refuse(ErrSDPNoConnection, "c= address %q is not usable", conn.Address.Address)
		}
		if dir == dirSendRecv {
			dir = dirInactive
		}
		_, mux := audio.Attribute("rtcp-mux")
		return &sd, audio, plainMedia{Mux: mux}, dir, nil
	}
	_, mux := audio.Attribute("rtcp-mux")
	m := plainMedia{Addr: &net.UDPAddr{IP: ip, Port: port}, RTCP: &net.UDPAddr{IP: ip, Port: port + 1}, Mux: mux}
	if v, ok := audio.Attribute("rtcp"); ok {
		if a := rtcpAttr(v, ip); a != nil {
			m.RTCP = a
		}
	}
	return &sd, audio, m, dir, nil
}

// rtcpAttr reads an a=rtcp value, "port [IN IP4 address]" (RFC 3605);
// without an address, RTCP goes to ip. An unusable one is nil (RTCP then
// goes to the RTP port + 1).
func rtcpAttr(v string, ip net.IP) *net.UDPAddr {
	f := strings.Fields(v)
	if len(f) == 0 {
		return nil
	}
	port, err := strconv.Atoi(f[0])
	if err != nil || port < 1 || port > 65535 {
		return nil
	}
	if len(f) == 4 && f[1] == "IN" && f[2] == "IP4" {
		a := net.ParseIP(f[3]).To4()
		if a == nil || a.IsUnspecified() {
			return nil
		}
		ip = a
	}
	return &net.UDPAddr{IP: ip, Port: port}
}

// parsePlainOffer checks a phone's offer: RTP/AVP, or with suites (SDES
// required) RTP/SAVP with an a=crypto of one of them, the first offered
// that is usable (the phone's order of preference). DTLS is not spoken
// toward the phone side.
func parsePlainOffer(body []byte, suites []sdesSuite) (offer, error) {
	_, audio, media, dir, err := readPlain(body, false, len(suites) > 0)
	if err != nil {
		return offer{}, err
	}
	codecs, dtmf := common(audio)
	if len(codecs) == 0 {
		return offer{}, refuse(ErrSDPNoCodec, "none of opus/48000/2, PCMU/8000, PCMA/8000 offered")
	}
	o := offer{SDP: body, Codecs: codecs, DTMF: dtmf, Dir: dir, Plain: media}
	if len(suites) > 0 {
		a, err := pickCrypto(cryptoValues(audio), suites, "")
		if err != nil {
			return offer{}, err
		}
		o.SDES = &a
	}
	return o, nil
}

// plainAnswer is what the gateway takes from a phone's RTP/AVP (or
// RTP/SAVP) answer.
type plainAnswer struct {
	Media  plainMedia
	Chosen chosen // with the phone's payload types
	Dir    string
	Crypto []string // the a=crypto values, for an RTP/SAVP answer
}

// parsePlainAnswer reads a phone's answer to an offer of offered: the first
// answered format that is one of offered wins. savp: the offer was
// RTP/SAVP, so must the answer be.
func parsePlainAnswer(body []byte, offered, offeredDTMF []codec, savp bool) (plainAnswer, error) {
	_, audio, media, dir, err := readPlain(body, false, savp)
	if err != nil {
		return plainAnswer{}, err
	}
	ch, ok := pick(audio, offered, offeredDTMF)
	if !ok {
		return plainAnswer{}, refuse(ErrSDPNoCodec, "answer picks no offered codec")
	}
	return plainAnswer{Media: media, Chosen: ch, Dir: dir, Crypto: cryptoValues(audio)}, nil
}

// plainSDP renders an offer or answer toward a phone: RTP/AVP, or
// RTP/SAVP with an a=crypto per attribute of crypto (SDES, RFC 4568); the
// codecs and telephone-events with their payload types, the direction,
// and no ICE, DTLS or rtcp-fb attributes; a=rtcp-mux only with mux (the
// phone offered it: the gateway's own first offers keep RTCP on the RTP
// port + 1, which every phone understands). version is the o= version.
func plainSDP(ip net.IP, port int, codecs []codec, dir string, mux bool, sessionID, version uint64, crypto ...cryptoAttr) []byte {
	var b strings.Builder
	line := func(format string, args ...any) {
		fmt.Fprintf(&b, format, args...)
		b.WriteString("\r\n")
	}
	line("v=0")
	line("o=gauntlet %d %d IN IP4 %s", sessionID, version, ip)
	line("s=gauntlet")
	line("c=IN IP4 %s", ip)
	line("t=0 0")
	pts := make([]string, len(codecs))
	for i, c := range codecs {
		pts[i] = strconv.Itoa(int(c.PT))
	}
	proto := "RTP/AVP"
	if len(crypto) > 0 {
		proto = "RTP/SAVP"
	}
	line("m=audio %d %s %s", port, proto, strings.Join(pts, " "))
	for _, c := range codecs {
		line("a=rtpmap:%d %s", c.PT, c)
		if c.Fmtp != "" {
			line("a=fmtp:%d %s", c.PT, c.Fmtp)
		}
	}
	line("a=ptime:20")
	line("a=%s", dir)
	if mux {
		line("a=rtcp-mux")
	}
	for _, a := range crypto {
		line("a=crypto:%s", a)
	}
	return []byte(b.String())
}

// withDTMF returns the audio codecs followed by the telephone-events.
func withDTMF(audio []codec, dtmf []codec) []codec {
	out := append([]codec(nil), audio...)
	return append(out, dtmf...)
}

// chosenCodecs is ch as a format list.
func (ch chosen) codecs() []codec {
	out := []codec{ch.Audio}
	if ch.DTMF != nil {
		out = append(out, *ch.DTMF)
	}
	return out
}
