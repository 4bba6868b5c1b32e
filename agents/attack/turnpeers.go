package attack

import (
	"context"
	"net/netip"
	"strings"

	"github.com/pion/stun/v4"

	"github.com/gauntlet-rtc/gauntlet/agents/turnload"
)

// turnDeniedPeer is a peer a relay must refuse to relay toward, and why.
type turnDeniedPeer struct {
	addr     netip.AddrPort
	why      string
	loopback bool // left out when the deployment relays to loopback on purpose
}

func turnDenyProbe(addr string, port uint16, why string) turnDeniedPeer {
	return turnDeniedPeer{addr: netip.AddrPortFrom(netip.MustParseAddr(addr), port), why: why}
}

func turnDenyProbeLoopback(addr string, why string) turnDeniedPeer {
	p := turnDenyProbe(addr, 9, why)
	p.loopback = true
	return p
}

// turnDeniedV4 and turnDeniedV6 are CONFORMANCE.md's deny list, one
// address from each range. turn-abuse only names them in requests to the
// relay; it never sends a datagram toward any of them.
var (
	turnDeniedV4 = []turnDeniedPeer{
		turnDenyProbe("10.0.0.1", 9, "private (RFC 1918)"),
		turnDenyProbe("172.16.0.1", 9, "private (RFC 1918)"),
		turnDenyProbe("192.168.1.1", 9, "private (RFC 1918)"),
		turnDenyProbe("100.64.0.1", 9, "shared address space (RFC 6598)"),
		turnDenyProbe("169.254.169.254", 80, "cloud metadata (link-local)"),
		turnDenyProbe("169.254.1.1", 9, "link-local"),
		turnDenyProbe("0.1.2.3", 9, "\"this network\" (0.0.0.0/8)"),
		turnDenyProbe("224.0.0.1", 9, "multicast"),
		turnDenyProbe("240.0.0.1", 9, "reserved (240.0.0.0/4)"),
		turnDenyProbe("255.255.255.255", 9, "broadcast"),
		turnDenyProbeLoopback("127.0.0.1", "loopback"),
	}
	turnDeniedV6 = []turnDeniedPeer{
		turnDenyProbe("::", 9, "unspecified"),
		turnDenyProbe("fc00::1", 9, "unique local (fc00::/7)"),
		turnDenyProbe("fd00::1", 9, "unique local (fc00::/7)"),
		turnDenyProbe("fe80::1", 9, "link-local (fe80::/10)"),
		turnDenyProbe("ff02::1", 9, "multicast"),
		turnDenyProbe("::ffff:169.254.169.254", 80, "IPv4-mapped cloud metadata"),
		turnDenyProbe("::ffff:10.0.0.1", 9, "IPv4-mapped private"),
		turnDenyProbe("64:ff9b::a9fe:a9fe", 80, "NAT64 of 169.254.169.254"),
		turnDenyProbeLoopback("::1", "loopback"),
		turnDenyProbeLoopback("::ffff:127.0.0.1", "IPv4-mapped loopback"),
	}
)

// turnDenyProbes returns the probes of a family, loopback ones left out when
// the deployment relays to loopback on purpose.
func turnDenyProbes(list []turnDeniedPeer, loopbackAllowed bool) []turnDeniedPeer {
	out := make([]turnDeniedPeer, 0, len(list))
	for _, p := range list {
		if p.loopback && loopbackAllowed {
			continue
		}
		out = append(out, p)
	}
	return out
}

// turnPeerProbe counts what the relay did with the deny-list requests.
type turnPeerProbe struct {
	requests, granted, unanswered int
	channel                       uint16
}

// peerDeny asks the relay, on an IPv4 and an IPv6 allocation, for a
// permission and a channel toward each denied peer of the family.
// Requests only: whatever the relay grants, no data is sent.
func (s *turnSession) peerDeny(ctx context.Context) turnCheck {
	c := turnCheck{name: "peer-deny"}
	loop := s.env.TURN.LoopbackPeers
	if loop {
		c.fact("the deployment relays to loopback peers on purpose: loopback left out of the probes")
	}
	pp := turnPeerProbe{channel: 0x4000}
	families := []struct {
		name  string
		peers []turnDeniedPeer
		extra []stun.Setter
	}{
		{"IPv4", turnDenyProbes(turnDeniedV4, loop), nil},
		{"IPv6", turnDenyProbes(turnDeniedV6, loop), []stun.Setter{turnload.RequestedFamilyIPv6}},
	}
	allocated := 0
	for _, f := range families {
		cl, err := s.userClient(ctx, "peers-"+f.name, nil)
		if err != nil {
			c.fact("%s: could not open a client: %v", f.name, err)
			continue
		}
		tctx, cancel := context.WithTimeout(ctx, turnStepTimeout)
		a, err := s.allocate(tctx, cl, f.extra...)
		cancel()
		if err != nil {
			c.fact("%s allocation: %s: %s peers not probed", f.name, turnAnswer(err), f.name)
			continue
		}
		allocated++
		c.fact("%s allocation: relayed address %s", f.name, a.Relayed)
		for _, p := range f.peers {
			s.probePeer(ctx, &c, &pp, cl, p)
		}
	}
	switch {
	case pp.granted > 0:
		c.vulnerable(High, turnFixPeerDeny, "%d of %d requests toward denied peers were granted", pp.granted, pp.requests)
	case allocated == 0:
		c.inconclusive("no allocation to probe from")
	case pp.unanswered == pp.requests:
		c.inconclusive("the relay answered none of the %d requests toward denied peers", pp.requests)
	default:
		c.resisted("all %d requests toward denied peers were refused", pp.requests)
		if pp.unanswered > 0 {
			c.warn("%d requests went unanswered (RFC 8656 asks for 403)", pp.unanswered)
		}
	}
	return c
}

// probePeer sends a CreatePermission and a ChannelBind naming p, and
// records both answers on one line.
func (s *turnSession) probePeer(ctx context.Context, c *turnCheck, pp *turnPeerProbe, cl *turnload.Client, p turnDeniedPeer) {
	var answers []string
	for _, method := range []string{"CreatePermission", "ChannelBind"} {
		tctx, cancel := context.WithTimeout(ctx, turnStepTimeout)
		var err error
		if method == "CreatePermission" {
			err = cl.CreatePermission(tctx, p.addr)
		} else {
			err = cl.ChannelBind(tctx, pp.channel, p.addr)
			pp.channel++ // a fresh channel for each peer, bound or not
		}
		cancel()
		pp.requests++
		switch {
		case err == nil:
			pp.granted++
			answers = append(answers, method+" GRANTED")
		case turnload.Code(err) != 0:
			answers = append(answers, method+" refused "+turnAnswer(err))
		default:
			pp.unanswered++
			answers = append(answers, method+" "+turnAnswer(err))
		}
	}
	c.fact("%s (%s): %s", p.addr, p.why, strings.Join(answers, ", "))
}
