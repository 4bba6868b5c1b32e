package scenarios

import (
	"hash/fnv"
	"net/netip"
	"strconv"

	"github.com/pion/stun/v4"

	"github.com/gauntlet-rtc/gauntlet/agents/impair"
	"github.com/gauntlet-rtc/gauntlet/agents/nat"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
	"github.com/gauntlet-rtc/gauntlet/reports"
)

// userAddrs are a virtual user's loopback addresses: public is the one
// the target sees; behind a NAT the agent binds private, an address no
// one else learns but through the agent's own host candidates, and the
// NAT maps it to public.
type userAddrs struct{ public, private netip.Addr }

func behindNAT(t nat.Type) bool {
	return t != "" && t != nat.Open && t != nat.UDPBlocked && t != nat.TCPOnePort
}

// nextAddrs takes the addresses virtual user of p needs.
func nextAddrs(p Population, sources *socket.Sources) (userAddrs, error) {
	var a userAddrs
	var err error
	if a.public, err = sources.Next(); err != nil {
		return a, err
	}
	if behindNAT(p.NAT) {
		a.private, err = sources.Next()
	}
	return a, err
}

// netOptions are the socket options that put virtual user i of p behind
// its NAT or firewall and impaired network, besides the guard and logger.
// Wrappers apply NAT first and impairment outside it: the impairment is
// the agent's access link, between it and its NAT.
func (r *runner) netOptions(p Population, i int, a userAddrs) ([]socket.Option, error) {
	var opts []socket.Option
	if p.NAT == "" {
		opts = append(opts, socket.WithSourceIP(a.public))
	} else {
		natOpts, err := nat.SocketOptions(p.NAT, a.private, a.public, r.cfg.Target.turnTLSPort())
		if err != nil {
			return nil, err
		}
		opts = append(opts, natOpts...)
	}
	if p.Network != nil {
		in, out, err := p.Network.Schedules()
		if err != nil {
			return nil, err
		}
		// Media as such, or relayed in TURN's framing: a relayed agent's
		// media crosses its access link only inside it.
		im, err := impair.New(impair.Config{In: in, Out: out, Seed: r.userSeed(p.Name, i), Match: relayedMedia, Origin: r.origin, Logger: r.log})
		if err != nil {
			return nil, err
		}
		opts = append(opts, socket.WithPacketWrapper(im.Wrap))
	}
	return opts, nil
}

// userSeed derives a virtual user's random streams from the run's seed.
func (r *runner) userSeed(population string, i int) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(strconv.FormatInt(r.cfg.Seed, 10) + "/" + population + "/" + strconv.Itoa(i)))
	return h.Sum64()
}

// turnTLSPort is the port of the target's first turns: URI, the one TCP
// port a tcp-one-port firewall lets through (0 without one).
func (t *Target) turnTLSPort() uint16 {
	if t.TURN == nil {
		return 0
	}
	for _, s := range t.TURN.Servers {
		for _, raw := range s.URLs {
			if u, err := stun.ParseURI(raw); err == nil && u.Scheme == stun.SchemeTypeTURNS {
				return uint16(u.Port)
			}
		}
	}
	return 0
}

// turnMode is which relays agents of p have, as the pairing table counts
// them.
func (t *Target) turnMode(p Population) nat.TURN {
	if t.TURN == nil || p.NoTURN {
		return nat.NoTURN
	}
	mode := nat.NoTURN
	for _, s := range t.TURN.Servers {
		for _, raw := range s.URLs {
			u, err := stun.ParseURI(raw)
			switch {
			case err != nil, !isTURN(u):
			case u.Scheme == stun.SchemeTypeTURNS || u.Proto == stun.ProtoTypeTCP:
				return nat.TURNAll
			default:
				mode = nat.TURNUDP
			}
		}
	}
	return mode
}

// expectation is what the NAT pairing table says a call from a to b must
// end in, with the two sides' NAT types; ok is false when the run emulates
// no NAT for either and the call is not direct (nothing to hold it to).
// Through SIP the far media end is the target's, on a reachable address:
// only firewalls (or relay-only policy) force a relay there.
func (r *runner) expectation(a, b Population) (ice reports.ICE, ok bool) {
	direct := a.Direct() && b.Direct()
	if a.NAT == "" && (!direct || b.NAT == "") || a.Kind != KindWebRTC {
		return ice, false
	}
	na, nb := orOpen(a.NAT), nat.Open
	if direct {
		nb = orOpen(b.NAT)
	}
	mode := r.cfg.Target.turnMode(a)
	if direct {
		mode = min(mode, r.cfg.Target.turnMode(b))
	}
	out, err := nat.Expected(na, nb, mode)
	if err != nil {
		return ice, false
	}
	if a.ICEPolicy == ICEPolicyRelay || (direct && b.ICEPolicy == ICEPolicyRelay) {
		out = relayOnly(na, nb, mode)
	}
	ice.NAT, ice.Expected = string(na), string(out)
	if direct {
		ice.PeerNAT = string(nb)
	} else {
		ice.PeerNAT = "target"
	}
	return ice, true
}

// roomExpectation is what the NAT pairing table says a participant of
// rooms population p must end in, with its NAT type and its peers' (the
// same: a room's participants are all of p); ok is false when the run
// emulates no NAT for p, as for calls, or when p offers every candidate
// (ice_policy: all), where the participant's side of the pair depends on
// what the service's candidate filter lets through. Relay-only
// participants reach the relay the rooms service hands out over UDP, or
// over TCP behind udp-blocked (tcp-one-port is refused by Check).
func roomExpectation(p Population) (ice reports.ICE, ok bool) {
	if p.NAT == "" || p.RoomICEPolicy() != ICEPolicyRelay {
		return ice, false
	}
	n := orOpen(p.NAT)
	return reports.ICE{NAT: string(n), PeerNAT: string(n), Expected: string(relayOnly(n, n, nat.TURNAll))}, true
}

// relayOnly is the outcome when a side may use relay candidates only: a
// relay if its relays are reachable at all, else failure.
func relayOnly(a, b nat.Type, mode nat.TURN) nat.Outcome {
	p, err := nat.ExpectedPath(a, b)
	switch {
	case err != nil, mode == nat.NoTURN, p == nat.PathRelayTCP && mode != nat.TURNAll:
		return nat.OutcomeFail
	}
	return nat.OutcomeRelay
}

func orOpen(t nat.Type) nat.Type {
	if t == "" {
		return nat.Open
	}
	return t
}
