package scenarios

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"

	"github.com/pion/stun/v4"

	"github.com/gauntlet-rtc/gauntlet/agents/impair"
	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/nat"
	"github.com/gauntlet-rtc/gauntlet/agents/room"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
)

// Room sizes a flow may ask for: every pair of participants has its own
// leg (a mesh of N(N-1)/2), and 8 is the reference's cap on a room.
const (
	MinRoomSize = 2
	MaxRoomSize = 8
)

// RoomICEPolicy is the ICE policy of a rooms population's participants:
// relay unless the file says all. The anonymous-voice deployment is
// relay-only, so that is the default; with all, participants also offer
// host and server-reflexive candidates, which the service's candidate
// filter must then strip.
func (p Population) RoomICEPolicy() string {
	if p.ICEPolicy == ICEPolicyAll {
		return ICEPolicyAll
	}
	return ICEPolicyRelay
}

// IsRoom reports whether the flow places rooms rather than calls.
func (f Flow) IsRoom() bool { return f.RoomSize > 0 }

// roomsPopulation checks what a rooms population may not set: its TURN
// comes from the rooms service, and the room agent offers its own SRTP
// profiles and DTLS role.
func (v validator) roomsPopulation(path string, p Population) {
	if p.NoTURN {
		v.l.add(joinPath(path, "turn"), ErrConflict, "room participants get TURN credentials from the rooms service and are relayed through it; turn: false does not apply")
	}
	if p.SRTPProfiles != nil && !slices.Equal(p.SRTPProfiles, DefaultSRTPProfiles()) {
		v.l.add(joinPath(path, "srtp_profiles"), ErrUnsupported, "room participants offer the room agent's SRTP profiles (%s); leave srtp_profiles out", joinQuoted(DefaultSRTPProfiles()))
	}
	if p.DTLSSetup != "" && p.DTLSSetup != DTLSSetupActpass {
		v.l.add(joinPath(path, "dtls_setup"), ErrUnsupported, "room participants offer a=setup:actpass; leave dtls_setup out")
	}
}

// roomFlow checks a flow with a room_size: rooms of one rooms population.
func (v validator) roomFlow(path string, f Flow, from, to Population, fromOK, toOK bool) {
	sizePath := joinPath(path, "room_size")
	sized := f.RoomSize >= MinRoomSize && f.RoomSize <= MaxRoomSize
	if !sized {
		v.l.add(sizePath, ErrRange, "must be %d..%d (every pair of participants has its own leg), got %d", MinRoomSize, MaxRoomSize, f.RoomSize)
	}
	if fromOK && !from.Rooms() {
		v.l.add(sizePath, ErrConflict, "rooms are joined by a rooms population (signaling: rooms); %q has signaling %s", from.Name, orSIP(from.Signaling))
	}
	if fromOK && toOK && from.Name != to.Name {
		v.l.add(joinPath(path, "to"), ErrConflict, "a room's participants all come from one population: to must be %q, as from", from.Name)
	}
	if fromOK && from.Rooms() && sized && from.Count > 0 && from.Count < f.RoomSize {
		v.l.add(sizePath, ErrConflict, "a room of %d needs %d users of its own (each on its own address); %q has %d", f.RoomSize, f.RoomSize, from.Name, from.Count)
	}
	if len(f.Actions) > 0 {
		v.l.add(joinPath(path, "actions"), ErrUnsupported, "mid-call actions use SIP re-INVITEs; room participants have no SIP")
	}
	spreadPath := joinPath(path, "join_spread")
	switch {
	case f.JoinSpread < 0:
		v.l.add(spreadPath, ErrRange, "must be >= 0 (0: each joins as soon as the one before is in), got %s", f.JoinSpread)
	case f.Hold.Min > 0 && f.JoinSpread > f.Hold.Min:
		v.l.add(spreadPath, ErrRange, "%s is longer than the shortest hold (%s): a room would take longer to fill than it is held", f.JoinSpread, f.Hold.Min)
	}
}

// RoomConfig is the configuration of a participant of rooms population p
// on this target, on the socket layer n and pacing clock. Its TURN relay
// is whichever the rooms service hands out: over UDP to an IPv4 address,
// or over TCP behind a udp-blocked firewall.
func (t *Target) RoomConfig(p Population, n *socket.Net, clock *media.Clock) (room.Config, error) {
	if t.Rooms == nil {
		return room.Config{}, fmt.Errorf("target %s: %w: no rooms section for population %q", t.Name, ErrConflict, p.Name)
	}
	codecs, err := mediaCodecs(p.Codecs)
	if err != nil {
		return room.Config{}, err
	}
	cfg := room.Config{
		URL: t.Rooms.URL, Net: n, Clock: clock, Codecs: codecs,
		OfferAll: p.RoomICEPolicy() == ICEPolicyAll,
		UseTURN:  room.UDPv4,
	}
	if p.NAT == nat.UDPBlocked {
		cfg.UseTURN = tcpv4
	}
	return cfg, nil
}

// tcpv4 keeps turn: URLs over TCP whose host is an IPv4 address.
func tcpv4(u *stun.URI) bool {
	a, err := netip.ParseAddr(u.Host)
	return u.Scheme == stun.SchemeTypeTURN && u.Proto == stun.ProtoTypeTCP && err == nil && a.Is4()
}

// roomFlows reports whether some flow places rooms, and whether some
// places calls.
func (s *Scenario) roomFlows() (rooms, calls bool) {
	for _, f := range s.Flows {
		if f.IsRoom() {
			rooms = true
		} else {
			calls = true
		}
	}
	return rooms, calls
}

// Units names what the scenario's plan places: calls, rooms, or both.
func (s *Scenario) Units() string {
	switch rooms, calls := s.roomFlows(); {
	case rooms && calls:
		return "calls and rooms"
	case rooms:
		return "rooms"
	}
	return "calls"
}

// relayedMedia is the impairment's Match: RTP or RTCP as such, or
// carried to and from the TURN relay (in a ChannelData
// message, or the DATA of a Send or Data indication), since a relayed
// participant's media reaches its access link only in TURN's framing.
// Media over TURN on TCP is a stream the packet wrapper does not see.
func relayedMedia(b []byte) bool {
	if impair.IsMedia(b) {
		return true
	}
	if len(b) >= 4 && b[0]>>6 == 1 { // ChannelData: channel 0x4000-0x7FFF (RFC 8656 12.4)
		n := int(binary.BigEndian.Uint16(b[2:]))
		return len(b) >= 4+n && impair.IsMedia(b[4:4+n])
	}
	if !stun.IsMessage(b) {
		return false
	}
	m := &stun.Message{Raw: b} // Decode only reads Raw, and m does not outlive the call: no copy per datagram
	if m.Decode() != nil || m.Type.Class != stun.ClassIndication || (m.Type.Method != stun.MethodSend && m.Type.Method != stun.MethodData) {
		return false
	}
	data, err := m.Get(stun.AttrData)
	return err == nil && impair.IsMedia(data)
}
