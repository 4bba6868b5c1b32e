package peer

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/pion/ice/v4"
	"github.com/pion/sdp/v3"
)

// ErrSDP is wrapped when the remote SDP cannot be used: unparsable, no audio
// m-line, not DTLS-SRTP, no ICE credentials, no fingerprint, or a bad setup.
var ErrSDP = errors.New("peer: unusable remote SDP")

// Setup roles as in a=setup (RFC 4145, RFC 5763).
const (
	SetupActpass = "actpass"
	SetupActive  = "active"
	SetupPassive = "passive"
)

const profileSAVPF = "UDP/TLS/RTP/SAVPF"

// localDesc is what goes into our offer or answer.
type localDesc struct {
	sessionID uint64
	ufrag     string
	pwd       string
	fp        fingerprint
	setup     string
	mid       string
	codecs    []media.Codec
	cands     []ice.Candidate
	ssrc      uint32
	cname     string
}

// buildSDP writes a JSEP (RFC 8829) description: one audio m-line in a
// BUNDLE group, rtcp-mux, ICE credentials, every candidate and
// end-of-candidates (no trickle), a sha-256 fingerprint, setup and sendrecv.
func buildSDP(d localDesc) ([]byte, error) {
	addr, port := "0.0.0.0", 9
	if len(d.cands) > 0 {
		addr, port = d.cands[0].Address(), d.cands[0].Port()
	}
	addrType := "IP4"
	if a, err := netip.ParseAddr(addr); err == nil && a.Is6() {
		addrType = "IP6"
	}
	m := &sdp.MediaDescription{
		MediaName: sdp.MediaName{
			Media:  "audio",
			Port:   sdp.RangedPort{Value: port},
			Protos: strings.Split(profileSAVPF, "/"),
		},
		ConnectionInformation: &sdp.ConnectionInformation{
			NetworkType: "IN", AddressType: addrType, Address: &sdp.Address{Address: addr},
		},
	}
	m.WithValueAttribute("rtcp", "9 IN IP4 0.0.0.0").
		WithICECredentials(d.ufrag, d.pwd).
		WithFingerprint(d.fp.hash, d.fp.value).
		WithValueAttribute("setup", d.setup).
		WithValueAttribute("mid", d.mid).
		WithPropertyAttribute("sendrecv").
		WithPropertyAttribute("rtcp-mux")
	for _, c := range d.codecs {
		ch := c.Channels
		if ch == 1 {
			ch = 0
		}
		m.WithCodec(c.PayloadType, c.Name, c.ClockRate, ch, c.Fmtp)
	}
	m.WithValueAttribute("msid", d.cname+" audio").
		WithValueAttribute("ssrc", fmt.Sprintf("%d cname:%s", d.ssrc, d.cname))
	for _, c := range d.cands {
		m.WithValueAttribute("candidate", c.Marshal())
	}
	m.WithPropertyAttribute("end-of-candidates")

	s := &sdp.SessionDescription{
		Origin: sdp.Origin{
			Username: "-", SessionID: d.sessionID, SessionVersion: 2,
			NetworkType: "IN", AddressType: "IP4", UnicastAddress: "127.0.0.1",
		},
		SessionName:      "-",
		TimeDescriptions: []sdp.TimeDescription{{}},
	}
	s.WithValueAttribute("group", "BUNDLE "+d.mid).WithMedia(m)
	return s.Marshal()
}

func newSessionID() uint64 { return rand.Uint64() >> 2 } // < 2^62 as JSEP asks

// remoteDesc is what we use from the far end's SDP.
type remoteDesc struct {
	ufrag   string
	pwd     string
	fps     []fingerprint
	setup   string
	mid     string
	codecs  []media.Codec // known codecs, in the far end's order, with its payload types
	cands   []string      // a=candidate values
	rtcpMux bool
}

// parseSDP reads the first audio m-line of a DTLS-SRTP description, strictly
// enough to fail clearly.
func parseSDP(b []byte) (remoteDesc, error) {
	s, m, err := media.AudioSection(b)
	if err != nil {
		return remoteDesc{}, fmt.Errorf("%w: %w", ErrSDP, err)
	}
	if m.MediaName.Port.Value == 0 {
		return remoteDesc{}, fmt.Errorf("%w: audio m-line rejected (port 0)", ErrSDP)
	}
	proto := strings.Join(m.MediaName.Protos, "/")
	if proto != profileSAVPF && proto != "UDP/TLS/RTP/SAVP" {
		return remoteDesc{}, fmt.Errorf("%w: audio transport %q is not DTLS-SRTP (%s)", ErrSDP, proto, profileSAVPF)
	}
	attr := func(key string) (string, bool) {
		if v, ok := m.Attribute(key); ok {
			return v, true
		}
		return s.Attribute(key)
	}
	var r remoteDesc
	var ok bool
	if r.ufrag, ok = attr("ice-ufrag"); !ok || len(r.ufrag) < 4 || len(r.ufrag) > 256 {
		return remoteDesc{}, fmt.Errorf("%w: ice-ufrag missing or not 4-256 characters (%q)", ErrSDP, r.ufrag)
	}
	if r.pwd, ok = attr("ice-pwd"); !ok || len(r.pwd) < 22 || len(r.pwd) > 256 {
		return remoteDesc{}, fmt.Errorf("%w: ice-pwd missing or not 22-256 characters", ErrSDP)
	}
	fps, err := fingerprints(m.Attributes)
	if err == nil && len(fps) == 0 {
		fps, err = fingerprints(s.Attributes)
	}
	if err != nil {
		return remoteDesc{}, err
	}
	if len(fps) == 0 {
		return remoteDesc{}, fmt.Errorf("%w: no a=fingerprint", ErrSDP)
	}
	r.fps = fps
	// RFC 4145 4: a missing setup means active.
	r.setup = SetupActive
	if v, ok := attr("setup"); ok {
		r.setup = strings.ToLower(strings.TrimSpace(v))
	}
	switch r.setup {
	case SetupActpass, SetupActive, SetupPassive:
	default:
		return remoteDesc{}, fmt.Errorf("%w: a=setup:%s", ErrSDP, r.setup)
	}
	r.mid, _ = m.Attribute("mid")
	_, r.rtcpMux = m.Attribute("rtcp-mux")
	r.codecs = media.CodecsFromSDP(m)
	for _, a := range m.Attributes {
		if a.Key == "candidate" {
			r.cands = append(r.cands, a.Value)
		}
	}
	return r, nil
}

func fingerprints(attrs []sdp.Attribute) ([]fingerprint, error) {
	var out []fingerprint
	for _, a := range attrs {
		if a.Key != "fingerprint" {
			continue
		}
		fp, err := parseFingerprint(a.Value)
		if err != nil {
			if errors.Is(err, ErrWeakFingerprint) {
				return nil, fmt.Errorf("%w: %w", ErrSDP, err)
			}
			return nil, err
		}
		out = append(out, fp)
	}
	return out, nil
}
