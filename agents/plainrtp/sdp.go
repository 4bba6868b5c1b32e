package plainrtp

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/pion/sdp/v3"
)

// buildSDP writes an RTP/AVP description: c= and m= of the socket's
// address, an rtpmap per codec, ptime 20, sendrecv.
func buildSDP(local netip.AddrPort, codecs []media.Codec) ([]byte, error) {
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
	for _, c := range codecs {
		ch := c.Channels
		if ch == 1 {
			ch = 0
		}
		m.WithCodec(c.PayloadType, c.Name, c.ClockRate, ch, c.Fmtp)
	}
	m.WithValueAttribute("ptime", "20").WithPropertyAttribute("sendrecv")
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
	addr   netip.AddrPort
	codecs []media.Codec
}

// parseSDP reads the first audio m-line of a plain RTP description.
func parseSDP(b []byte) (remoteDesc, error) {
	var s sdp.SessionDescription
	if err := s.Unmarshal(b); err != nil {
		return remoteDesc{}, fmt.Errorf("%w: %w", ErrSDP, err)
	}
	var m *sdp.MediaDescription
	for _, md := range s.MediaDescriptions {
		if md.MediaName.Media == "audio" {
			m = md
			break
		}
	}
	if m == nil {
		return remoteDesc{}, fmt.Errorf("%w: no audio m-line", ErrSDP)
	}
	port := m.MediaName.Port.Value
	if port <= 0 || port > 65535 {
		return remoteDesc{}, fmt.Errorf("%w: audio port %d (rejected or invalid)", ErrSDP, port)
	}
	proto := strings.Join(m.MediaName.Protos, "/")
	if proto != "RTP/AVP" && proto != "RTP/AVPF" {
		return remoteDesc{}, fmt.Errorf("%w: audio transport %q is not plain RTP (RTP/AVP)", ErrSDP, proto)
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
	return remoteDesc{addr: netip.AddrPortFrom(ip, uint16(port)), codecs: media.CodecsFromSDP(m)}, nil
}
