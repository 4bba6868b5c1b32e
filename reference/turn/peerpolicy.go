package turn

import (
	"net/netip"
	"sync"
)

// DeniedPeerPrefixes are the peers the relay refuses by default (403 to
// CreatePermission and ChannelBind, Send indications dropped): CONFORMANCE.md's
// list (private, shared, link-local and cloud-metadata, loopback, "this
// network", multicast and reserved ranges, NAT64, IPv4-mapped IPv6, ULA)
// plus the unspecified and multicast IPv6 addresses. Loopback is allowed
// only with Config.AllowLoopbackPeers. The relay's own listen addresses are
// always refused as well.
var DeniedPeerPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("::/128"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("::ffff:0:0/96"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("ff00::/8"),
}

// peerPolicy decides which peer addresses clients may relay to.
type peerPolicy struct {
	off      bool
	loopback bool
	deny     []netip.Prefix

	mu   sync.RWMutex
	self map[netip.AddrPort]bool // the relay's listen addresses
}

func newPeerPolicy(c Config) *peerPolicy {
	p := &peerPolicy{
		off:      c.weakened(WeakenPeerDeny),
		loopback: c.AllowLoopbackPeers,
		deny:     append([]netip.Prefix(nil), DeniedPeerPrefixes...),
		self:     map[netip.AddrPort]bool{},
	}
	for _, s := range c.DeniedPeers {
		p.deny = append(p.deny, netip.MustParsePrefix(s).Masked())
	}
	return p
}

// addSelf refuses a listen address of the relay as a peer.
func (p *peerPolicy) addSelf(ap netip.AddrPort) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.self[netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port())] = true
}

// allowed reports whether a client may relay to peer. The address is
// judged as it came in XOR-PEER-ADDRESS: an IPv4-mapped IPv6 address is
// not unmapped (it is denied as such).
func (p *peerPolicy) allowed(peer netip.AddrPort) bool {
	if p.off {
		return true
	}
	a := peer.Addr().WithZone("")
	p.mu.RLock()
	self := p.self[netip.AddrPortFrom(a.Unmap(), peer.Port())]
	p.mu.RUnlock()
	if self || !a.IsValid() || a.Is4In6() {
		return false
	}
	if p.loopback && a.IsLoopback() {
		return true
	}
	for _, d := range p.deny {
		if d.Contains(a) {
			return false
		}
	}
	return true
}
