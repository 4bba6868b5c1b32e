package plainrtp

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/pion/sdp/v3"
)

// sdpRTCP is what a description says about RTCP: rtcp-mux (RFC 5761), and
// an RTCP port other than RTP + 1 (a=rtcp, RFC 3605; 0: none).
type sdpRTCP struct {
	mux  bool
	port int
}

// buildSDP writes an RTP/AVP description: c= and m= of the socket's
// address, an rtpmap per codec, ptime 20, sendrecv, and the RTCP
// attributes rt asks for. With crypto lines it is RTP/SAVP with an
// a=crypto per line (RFC 4568), in order.
func buildSDP(local netip.AddrPort, codecs []media.Codec, rt sdpRTCP, crypto []cryptoLine) ([]byte, error) {
	addrType := "IP4"
	if local.Addr().Is6() {
		addrType = "IP6"
	}
	ip := local.Addr().String()
	m := &sdp.MediaDescription{
		MediaName: sdp.MediaName{
			Media:  "audio",
			Port:   sdp.RangedPort{Value: int(local.Port())},
			Protos: []string{"RTP", "AVP"},
		},
	}
	if len(crypto) > 0 {
		m.MediaName.Protos[1] = "SAVP"
	}
	for _, c := range codecs {
		ch := c.Channels
		if ch == 1 {
			ch = 0
		}
		m.WithCodec(c.PayloadType, c.Name, c.ClockRate, ch, c.Fmtp)
	}
	m.WithValueAttribute("ptime", "20").WithPropertyAttribute("sendrecv")
	if rt.port > 0 {
		m.WithValueAttribute("rtcp", strconv.Itoa(rt.port))
	}
	if rt.mux {
		m.WithPropertyAttribute("rtcp-mux")
	}
	for _, c := range crypto {
		m.WithValueAttribute("crypto", c.value())
	}
	s := &sdp.SessionDescription{
		Origin: sdp.Origin{
			Username: "-", SessionID: rand.Uint64() >> 2, SessionVersion: 1,
			NetworkType: "IN", AddressType: addrType, UnicastAddress: ip,
		},
		SessionName: "-",
		ConnectionInformation: &sdp.ConnectionInformation{
			NetworkType: "IN", AddressType: addrType, Address: &sdp.Address{Address: ip},
		},
		TimeDescriptions: []sdp.TimeDescription{{}},
	}
	s.WithMedia(m)
	b, err := s.Marshal()
	if err != nil {
		return nil, fmt.Errorf("plainrtp: building SDP: %w", err)
	}
	return b, nil
}

// remoteDesc is what we use from the far end's SDP.
type remoteDesc struct {
	addr    netip.AddrPort
	codecs  []media.Codec
	rtcpMux bool           // a=rtcp-mux
	rtcp    netip.AddrPort // a=rtcp (RFC 3605); zero when absent
	savp    bool           // RTP/SAVP: SRTP keyed by the a=crypto lines
	crypto  []string       // the m-line's a=crypto values, in order
}

// parseSDP reads the first audio m-line of an RTP/AVP or RTP/SAVP
// description.
func parseSDP(b []byte) (remoteDesc, error) {
	s, m, err := media.AudioSection(b)
	if err != nil {
		return remoteDesc{}, fmt.Errorf("%w: %w", ErrSDP, err)
	}
	port := m.MediaName.Port.Value
	if port <= 0 || port > 65535 {
		return remoteDesc{}, fmt.Errorf("%w: audio port %d (rejected or invalid)", ErrSDP, port)
	}
	proto := strings.Join(m.MediaName.Protos, "/")
	if proto != "RTP/AVP" && proto != "RTP/AVPF" && proto != "RTP/SAVP" {
		return remoteDesc{}, fmt.Errorf("%w: audio transport %q is neither plain RTP (RTP/AVP) nor SDES-SRTP (RTP/SAVP)", ErrSDP, proto)
	}
	ci := m.ConnectionInformation
	if ci == nil {
		ci = s.ConnectionInformation
	}
	if ci == nil || ci.Address == nil {
		return remoteDesc{}, fmt.Errorf("%w: no c= line", ErrSDP)
	}
	host, _, _ := strings.Cut(ci.Address.Address, "/") // a multicast TTL suffix is not ours to follow
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.IsUnspecified() {
		return remoteDesc{}, fmt.Errorf("%w: c= address %q is not a usable IP address", ErrSDP, ci.Address.Address)
	}
	r := remoteDesc{addr: netip.AddrPortFrom(ip, uint16(port)), codecs: media.CodecsFromSDP(m)}
	r.savp, r.crypto = proto == "RTP/SAVP", cryptoValues(m)
	_, r.rtcpMux = m.Attribute("rtcp-mux")
	if v, ok := m.Attribute("rtcp"); ok {
		r.rtcp = parseRTCPAttr(v, ip)
	}
	return r, nil
}

// parseRTCPAttr reads a=rtcp:port [IN IP4 addr] (RFC 3605); the address
// defaults to the media's. It returns the zero AddrPort when unreadable.
func parseRTCPAttr(v string, def netip.Addr) netip.AddrPort {
	f := strings.Fields(v)
	if len(f) == 0 {
		return netip.AddrPort{}
	}
	port, err := strconv.ParseUint(f[0], 10, 16)
	if err != nil || port == 0 {
		return netip.AddrPort{}
	}
	addr := def
	if len(f) == 4 {
		a, err := netip.ParseAddr(f[3])
		if err != nil || a.IsUnspecified() {
			return netip.AddrPort{}
		}
		addr = a
	}
	return netip.AddrPortFrom(addr, uint16(port))
}
