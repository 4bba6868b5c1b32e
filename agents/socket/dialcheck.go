package socket

import (
	"net"
	"net/netip"
	"strconv"
)

// DialCheck decides whether a dial may leave: network is "tcp4", "tcp6",
// "udp4" or "udp6", raddr the destination. A non-nil error refuses it.
type DialCheck func(network string, raddr netip.AddrPort) error

// WithDialCheck adds a check every dial (TCP, and connected UDP) must pass
// after the guard: the network simulator's firewalls plug in here, as its
// NATs and impairment plug into WithPacketWrapper.
func WithDialCheck(check DialCheck) Option {
	return func(n *Net) { n.dialChecks = append(n.dialChecks, check) }
}

func (n *Net) checkDial(network string, dst netip.Addr, port string) error {
	if len(n.dialChecks) == 0 {
		return nil
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return &net.OpError{Op: "dial", Net: network, Err: err}
	}
	return n.runDialChecks(network, netip.AddrPortFrom(dst, uint16(p)))
}

func (n *Net) checkDialAddr(network string, raddr net.Addr) error {
	if len(n.dialChecks) == 0 {
		return nil
	}
	ap, err := netip.ParseAddrPort(raddr.String())
	if err != nil {
		return &net.OpError{Op: "dial", Net: network, Addr: raddr, Err: err}
	}
	return n.runDialChecks(network, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
}

func (n *Net) runDialChecks(network string, raddr netip.AddrPort) error {
	for _, check := range n.dialChecks {
		if err := check(network, raddr); err != nil {
			n.log.Debug("dial refused by a dial check", "remote", raddr.String(), "err", err)
			return &net.OpError{Op: "dial", Net: network, Addr: net.TCPAddrFromAddrPort(raddr), Err: err}
		}
	}
	return nil
}
