package nat

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
)

// ErrBlocked is wrapped by what a firewall refuses: a UDP send, or a TCP
// dial to a port it does not allow. The refusal is immediate, as a host
// firewall's REJECT is, so agents fail over without waiting for timeouts.
var ErrBlocked = errors.New("nat: blocked by the firewall")

// Firewall is a stateless firewall in front of an agent: it drops all UDP,
// and with TCPPort set allows TCP (and TLS over it) to that port only. Its
// Wrap goes to socket.WithPacketWrapper and CheckDial to
// socket.WithDialCheck.
type Firewall struct {
	tcpPort uint16

	udpBlocked atomic.Int64
	tcpRefused atomic.Int64
}

// NewFirewall returns the firewall of type t: UDPBlocked, or TCPOnePort
// with the one TCP port allowed.
func NewFirewall(t Type, tcpPort uint16) (*Firewall, error) {
	switch {
	case t == UDPBlocked && tcpPort == 0:
		return &Firewall{}, nil
	case t == TCPOnePort && tcpPort != 0:
		return &Firewall{tcpPort: tcpPort}, nil
	case t == UDPBlocked:
		return nil, fmt.Errorf("%w: %s takes no TCP port", ErrConfig, t)
	case t == TCPOnePort:
		return nil, fmt.Errorf("%w: %s needs the TCP port it allows", ErrConfig, t)
	}
	return nil, fmt.Errorf("%w: %q is not a firewall type", ErrConfig, t)
}

// FirewallStats are a firewall's counters.
type FirewallStats struct {
	UDPBlocked int64 // UDP datagrams refused (sent) or dropped (received)
	TCPRefused int64 // TCP dials refused
}

// Stats returns the firewall's counters.
func (f *Firewall) Stats() FirewallStats {
	return FirewallStats{UDPBlocked: f.udpBlocked.Load(), TCPRefused: f.tcpRefused.Load()}
}

// CheckDial refuses UDP, and TCP to any port but the allowed one.
func (f *Firewall) CheckDial(network string, raddr netip.AddrPort) error {
	switch {
	case strings.HasPrefix(network, "udp"):
		f.udpBlocked.Add(1)
		return fmt.Errorf("%w: UDP to %s", ErrBlocked, raddr)
	case f.tcpPort != 0 && raddr.Port() != f.tcpPort:
		f.tcpRefused.Add(1)
		return fmt.Errorf("%w: TCP to %s (only port %d is open)", ErrBlocked, raddr, f.tcpPort)
	}
	return nil
}

// Wrap blocks every UDP datagram through inner, both ways.
func (f *Firewall) Wrap(inner net.PacketConn) net.PacketConn {
	return &blockedConn{PacketConn: inner, f: f}
}

type blockedConn struct {
	net.PacketConn
	f *Firewall
}

func (c *blockedConn) WriteTo(_ []byte, addr net.Addr) (int, error) {
	c.f.udpBlocked.Add(1)
	return 0, &net.OpError{Op: "write", Net: "udp", Source: c.LocalAddr(), Addr: addr,
		Err: fmt.Errorf("%w: UDP to %v", ErrBlocked, addr)}
}

// ReadFrom drops whatever arrives, until the socket closes or the read
// deadline passes.
func (c *blockedConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		_, _, err := c.PacketConn.ReadFrom(p)
		if err != nil {
			return 0, nil, err
		}
		c.f.udpBlocked.Add(1)
	}
}
