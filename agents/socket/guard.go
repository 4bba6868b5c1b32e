package socket

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// ErrDenied is wrapped by every error the guard returns for a destination it
// does not allow. Nothing is sent when it is returned.
var ErrDenied = errors.New("socket: destination denied")

// Guard decides which destinations an agent may send to: loopback (127/8,
// ::1) always, plus the prefixes and hosts it is told to allow (the target's
// hosts, and at run time the media candidates the target offers). It is safe
// for concurrent use and counts what it refuses.
type Guard struct {
	mu       sync.RWMutex
	prefixes []netip.Prefix
	hosts    map[netip.Addr]struct{}
	denied   atomic.Int64
}

// NewGuard returns a guard that allows loopback and the given prefixes.
func NewGuard(allow ...netip.Prefix) *Guard {
	g := &Guard{hosts: map[netip.Addr]struct{}{}}
	for _, p := range allow {
		g.AllowPrefix(p)
	}
	return g
}

// AllowPrefix allows every address in p.
func (g *Guard) AllowPrefix(p netip.Prefix) {
	p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()).Masked()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.prefixes = append(g.prefixes, p)
}

// Allow allows one address, e.g. a media candidate the target offered.
func (g *Guard) Allow(addr netip.Addr) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hosts[addr.Unmap().WithZone("")] = struct{}{}
}

// Allowed reports whether data may be sent to addr.
func (g *Guard) Allowed(addr netip.Addr) bool {
	addr = addr.Unmap().WithZone("")
	if addr.IsLoopback() {
		return true
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	if _, ok := g.hosts[addr]; ok {
		return true
	}
	for _, p := range g.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Check returns nil if data may be sent to addr, else an error wrapping
// ErrDenied; each refusal is counted.
func (g *Guard) Check(addr netip.Addr) error {
	if g.Allowed(addr) {
		return nil
	}
	g.denied.Add(1)
	return fmt.Errorf("%w: %s", ErrDenied, addr)
}

// CheckAddr is Check for a net.Addr (*net.UDPAddr, *net.TCPAddr, *net.IPAddr,
// or anything whose String is ip:port). An address it cannot read is denied.
func (g *Guard) CheckAddr(a net.Addr) error {
	addr, ok := addrIP(a)
	if !ok {
		g.denied.Add(1)
		return fmt.Errorf("%w: unreadable address %v", ErrDenied, a)
	}
	return g.Check(addr)
}

// Denied returns how many sends and dials the guard has refused.
func (g *Guard) Denied() int64 { return g.denied.Load() }

func addrIP(a net.Addr) (netip.Addr, bool) {
	switch v := a.(type) {
	case nil:
		return netip.Addr{}, false
	case *net.UDPAddr:
		if v == nil {
			return netip.Addr{}, false
		}
		return netip.AddrFromSlice(v.IP)
	case *net.TCPAddr:
		if v == nil {
			return netip.Addr{}, false
		}
		return netip.AddrFromSlice(v.IP)
	case *net.IPAddr:
		if v == nil {
			return netip.Addr{}, false
		}
		return netip.AddrFromSlice(v.IP)
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr(), true
}
