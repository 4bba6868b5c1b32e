package scenarios

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/gauntlet-rtc/gauntlet/agents/socket"
)

// Sources returns where the virtual users' sockets come from. Toward a
// target on this machine every user binds a loopback address of its own
// (127.0.1.1 upward), so that per-source limits see one source per user as
// in production. Toward a target elsewhere a loopback source cannot reach
// it: users share the machine's addresses, the ones the target file lists
// under sources, else the one the routing table picks toward the target's
// first host outside loopback. Finding that route sends nothing.
func (t *Target) Sources(ctx context.Context) (*socket.Sources, error) {
	if t.Loopback() {
		return socket.NewSources(), nil
	}
	if len(t.SourceAddrs) > 0 {
		return socket.NewSharedSources(t.SourceAddrs)
	}
	a, host, err := t.routeSource(ctx)
	if err != nil {
		return nil, err
	}
	if a.IsLoopback() {
		return nil, fmt.Errorf("%w: the route toward %s leaves from loopback (%s); name the address to use under sources", ErrUnreachable, host, a)
	}
	return socket.NewSharedSources([]netip.Addr{a})
}

// routeSource is the local address the routing table picks toward the
// first of the target's hosts outside loopback.
func (t *Target) routeSource(ctx context.Context) (netip.Addr, string, error) {
	for _, h := range t.hosts() {
		if hostIsLoopback(h) {
			continue
		}
		ip, err := netip.ParseAddr(h)
		if err != nil {
			ips, lerr := net.DefaultResolver.LookupNetIP(ctx, "ip", h)
			if lerr != nil || len(ips) == 0 {
				return netip.Addr{}, h, fmt.Errorf("%w: resolving %s: %v", ErrUnreachable, h, lerr)
			}
			ip = ips[0]
		}
		ip = ip.Unmap()
		// A connected UDP socket asks the routing table for a source and
		// sends nothing; port 9 is discard, never written to.
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 9)))
		if err != nil {
			return netip.Addr{}, h, fmt.Errorf("%w: no route from this machine to %s: %w", ErrUnreachable, h, err)
		}
		local := c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
		_ = c.Close()
		return local, h, nil
	}
	return netip.Addr{}, "", fmt.Errorf("%w: the target names no host outside loopback", ErrUnreachable)
}

// localAddrs are this machine's interface addresses.
func localAddrs() (map[netip.Addr]bool, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	out := map[netip.Addr]bool{}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out[p.Addr().Unmap()] = true
		}
	}
	return out, nil
}

// sources checks the target file's sources: IP literals of this machine.
func (v validator) sources(addrs []netip.Addr) {
	local, err := localAddrs()
	for i, a := range addrs {
		path := indexPath("sources", i)
		switch {
		case !a.IsValid() || a.IsUnspecified() || a.IsMulticast():
			v.l.add(path, ErrSyntax, "want a unicast IP address of this machine")
		case err == nil && !local[a]:
			v.l.add(path, ErrConflict, "%s is not an address of this machine's interfaces", a)
		}
	}
}
