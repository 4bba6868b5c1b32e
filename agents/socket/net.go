// Package socket is the socket layer under every Gauntlet agent: a pion
// transport.Net that binds every socket to the agent's own loopback source
// address, presents one virtual interface holding only that address, checks
// every destination with a Guard before a byte is sent, and shows every UDP
// datagram to an observer.
package socket

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"

	"github.com/pion/transport/v4"
)

// ErrSource is wrapped when a socket is asked to bind an address other than
// the agent's source address.
var ErrSource = errors.New("socket: bind address is not the agent's source address")

// InterfaceName is the name of the one virtual interface a Net presents.
const InterfaceName = "gauntlet0"

// Net implements pion's transport.Net over the real network, bound to one
// source address and guarded. Create it with New; it is safe for concurrent
// use.
type Net struct {
	src        netip.Addr
	guard      *Guard
	observe    ObserverFunc
	log        *slog.Logger
	iface      *transport.Interface
	wrappers   []func(net.PacketConn) net.PacketConn
	dialChecks []DialCheck
}

var _ transport.Net = (*Net)(nil)

// Option configures a Net.
type Option func(*Net)

// WithSourceIP sets the address every socket binds to (default 127.0.0.1).
func WithSourceIP(ip netip.Addr) Option { return func(n *Net) { n.src = ip.Unmap() } }

// WithGuard sets the guard (default: loopback only).
func WithGuard(g *Guard) Option { return func(n *Net) { n.guard = g } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(n *Net) { n.log = l } }

// WithObserver sets a function that sees every UDP datagram in and out.
func WithObserver(fn ObserverFunc) Option { return func(n *Net) { n.observe = fn } }

// WithPacketWrapper adds a layer between the guard and every UDP socket the
// Net opens: the network simulator (impairment, NAT filtering) plugs in
// here. Wrappers apply in order, the first one nearest the real socket.
// Whatever a wrapper sends still passed the guard first.
func WithPacketWrapper(w func(net.PacketConn) net.PacketConn) Option {
	return func(n *Net) { n.wrappers = append(n.wrappers, w) }
}

// New returns a Net. The source address must be a valid unicast address
// (any of 127/8 works on Linux without set-up).
func New(opts ...Option) (*Net, error) {
	n := &Net{src: netip.MustParseAddr("127.0.0.1")}
	for _, o := range opts {
		o(n)
	}
	if !n.src.IsValid() || n.src.IsUnspecified() || n.src.IsMulticast() {
		return nil, fmt.Errorf("%w: invalid source address %v", ErrSource, n.src)
	}
	if n.guard == nil {
		n.guard = NewGuard()
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	n.log = n.log.With("source", n.src.String())

	flags := net.FlagUp | net.FlagRunning
	if n.src.IsLoopback() {
		flags |= net.FlagLoopback
	}
	n.iface = transport.NewInterface(net.Interface{Index: 1, MTU: 1500, Name: InterfaceName, Flags: flags})
	bits := n.src.BitLen()
	n.iface.AddAddress(&net.IPNet{IP: n.src.AsSlice(), Mask: net.CIDRMask(bits, bits)})
	return n, nil
}

// SourceIP returns the address every socket binds to.
func (n *Net) SourceIP() netip.Addr { return n.src }

// Guard returns the guard that checks destinations.
func (n *Net) Guard() *Guard { return n.guard }

// family turns "udp"/"tcp" into the variant matching the source address and
// rejects a variant that cannot reach it.
func (n *Net) family(network string) (string, error) {
	suffix := "4"
	if n.src.Is6() {
		suffix = "6"
	}
	switch network {
	case "udp", "tcp":
		return network + suffix, nil
	case "udp" + suffix, "tcp" + suffix:
		return network, nil
	}
	return "", fmt.Errorf("socket: network %q with source %s: %w", network, n.src, transport.ErrNotSupported)
}

// bindIP checks a requested local IP: unspecified means the source address,
// anything else must be the source address.
func (n *Net) bindIP(ip net.IP) (net.IP, error) {
	if len(ip) == 0 || ip.IsUnspecified() {
		return n.src.AsSlice(), nil
	}
	a, ok := netip.AddrFromSlice(ip)
	if !ok || a.Unmap() != n.src {
		return nil, fmt.Errorf("%w: %v (source %s)", ErrSource, ip, n.src)
	}
	return n.src.AsSlice(), nil
}

func (n *Net) bindHostPort(address string) (net.IP, int, error) {
	if address == "" {
		address = ":0"
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, 0, fmt.Errorf("socket: bind address %q: %w", address, err)
	}
	p := 0
	if port != "" {
		if p, err = strconv.Atoi(port); err != nil {
			return nil, 0, fmt.Errorf("socket: bind port %q: %w", port, err)
		}
	}
	var ip net.IP
	if host != "" {
		if ip = net.ParseIP(host); ip == nil {
			return nil, 0, fmt.Errorf("%w: %q is not an IP literal", ErrSource, host)
		}
	}
	ip, err = n.bindIP(ip)
	return ip, p, err
}

func (n *Net) wrap(c net.PacketConn, remote net.Addr) *PacketConn {
	for _, w := range n.wrappers {
		c = w(c)
	}
	return NewPacketConn(c, remote, n.guard, n.observe, n.log)
}

// ListenPacket opens a UDP socket bound to the source address (the host in
// address must be empty, unspecified or the source address).
func (n *Net) ListenPacket(network, address string) (net.PacketConn, error) {
	return n.listenPacket(context.Background(), &net.ListenConfig{}, network, address)
}

func (n *Net) listenPacket(ctx context.Context, lc *net.ListenConfig, network, address string) (net.PacketConn, error) {
	fam, err := n.family(network)
	if err != nil || fam[:3] != "udp" {
		return nil, fmt.Errorf("socket: listen %q: %w", network, transport.ErrNotSupported)
	}
	ip, port, err := n.bindHostPort(address)
	if err != nil {
		return nil, err
	}
	c, err := lc.ListenPacket(ctx, fam, net.JoinHostPort(ip.String(), strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	return n.wrap(c, nil), nil
}

// localAddr checks that network is of proto ("udp" or "tcp") and turns a
// requested local IP into the source address every socket binds to.
func (n *Net) localAddr(network, proto string, ip net.IP) (string, net.IP, error) {
	fam, err := n.family(network)
	if err != nil || fam[:3] != proto {
		return "", nil, fmt.Errorf("socket: listen %q: %w", network, transport.ErrNotSupported)
	}
	ip, err = n.bindIP(ip)
	return fam, ip, err
}

// ListenUDP opens a UDP socket bound to the source address.
func (n *Net) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	local := &net.UDPAddr{}
	if laddr != nil {
		local.IP, local.Port = laddr.IP, laddr.Port
	}
	fam, ip, err := n.localAddr(network, "udp", local.IP)
	if err != nil {
		return nil, err
	}
	local.IP = ip
	c, err := net.ListenUDP(fam, local)
	if err != nil {
		return nil, err
	}
	return n.wrap(c, nil), nil
}

// ListenTCP opens a TCP listener bound to the source address.
func (n *Net) ListenTCP(network string, laddr *net.TCPAddr) (transport.TCPListener, error) {
	local := &net.TCPAddr{}
	if laddr != nil {
		local.IP, local.Port = laddr.IP, laddr.Port
	}
	fam, ip, err := n.localAddr(network, "tcp", local.IP)
	if err != nil {
		return nil, err
	}
	local.IP = ip
	l, err := net.ListenTCP(fam, local)
	if err != nil {
		return nil, err
	}
	return tcpListener{l}, nil
}

type tcpListener struct{ *net.TCPListener }

func (l tcpListener) AcceptTCP() (transport.TCPConn, error) { return l.TCPListener.AcceptTCP() }

// Dial connects from the source address, after the guard allowed addr.
func (n *Net) Dial(network, address string) (net.Conn, error) {
	return n.DialContext(context.Background(), network, address)
}

// DialContext connects from the source address (TCP for signaling such as
// WebSocket, or a connected UDP socket), after the guard allowed the
// destination. A host name is resolved first and every address it resolves
// to is checked; the first allowed one is dialled.
func (n *Net) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return n.dial(ctx, &net.Dialer{}, network, address)
}

func (n *Net) dial(ctx context.Context, d *net.Dialer, network, address string) (net.Conn, error) {
	fam, err := n.family(network)
	if err != nil {
		return nil, err
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("socket: dial %q: %w", address, err)
	}
	dst, err := n.resolveAllowed(ctx, fam, host)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: fam, Err: err}
	}
	if err := n.checkDial(fam, dst, port); err != nil {
		return nil, err
	}
	dd := *d
	target := net.JoinHostPort(dst.String(), port)
	if fam[:3] == "udp" {
		dd.LocalAddr = &net.UDPAddr{IP: n.src.AsSlice()}
		c, err := dd.DialContext(ctx, fam, target)
		if err != nil {
			return nil, err
		}
		return n.wrap(c.(*net.UDPConn), c.RemoteAddr()), nil
	}
	dd.LocalAddr = &net.TCPAddr{IP: n.src.AsSlice()}
	return dd.DialContext(ctx, fam, target)
}

func (n *Net) resolveAllowed(ctx context.Context, fam, host string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		return a, n.denyLogged(a)
	}
	ipnet := "ip4"
	if n.src.Is6() {
		ipnet = "ip6"
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, ipnet, host)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("socket: resolve %q for %s: %w", host, fam, err)
	}
	var firstErr error
	for _, a := range addrs {
		a = a.Unmap()
		if err := n.denyLogged(a); err != nil {
			firstErr = err
			continue
		}
		return a, nil
	}
	if firstErr == nil {
		firstErr = fmt.Errorf("socket: %q resolved to no address", host)
	}
	return netip.Addr{}, firstErr
}

func (n *Net) denyLogged(a netip.Addr) error {
	if err := n.guard.Check(a); err != nil {
		n.log.Warn("dial refused by the guard", "remote", a.String())
		return err
	}
	return nil
}

// dialAddrs checks a dial of proto ("udp" or "tcp") to raddr: the family,
// the guard (before a byte is sent) and the dial check, and turns the
// requested local IP into the source address.
func (n *Net) dialAddrs(network, proto string, lip net.IP, raddr net.Addr) (string, net.IP, error) {
	fam, err := n.family(network)
	if err != nil || fam[:3] != proto {
		return "", nil, fmt.Errorf("socket: dial %q: %w", network, transport.ErrNotSupported)
	}
	if err := n.guard.CheckAddr(raddr); err != nil {
		n.log.Warn("dial refused by the guard", "remote", raddr)
		return "", nil, &net.OpError{Op: "dial", Net: fam, Addr: raddr, Err: err}
	}
	if err := n.checkDialAddr(fam, raddr); err != nil {
		return "", nil, err
	}
	ip, err := n.bindIP(lip)
	return fam, ip, err
}

// DialUDP opens a connected UDP socket from the source address.
func (n *Net) DialUDP(network string, laddr, raddr *net.UDPAddr) (transport.UDPConn, error) {
	local := &net.UDPAddr{}
	if laddr != nil {
		local.IP, local.Port = laddr.IP, laddr.Port
	}
	fam, ip, err := n.dialAddrs(network, "udp", local.IP, raddr)
	if err != nil {
		return nil, err
	}
	local.IP = ip
	c, err := net.DialUDP(fam, local, raddr)
	if err != nil {
		return nil, err
	}
	return n.wrap(c, c.RemoteAddr()), nil
}

// DialTCP connects over TCP from the source address.
func (n *Net) DialTCP(network string, laddr, raddr *net.TCPAddr) (transport.TCPConn, error) {
	local := &net.TCPAddr{}
	if laddr != nil {
		local.IP, local.Port = laddr.IP, laddr.Port
	}
	fam, ip, err := n.dialAddrs(network, "tcp", local.IP, raddr)
	if err != nil {
		return nil, err
	}
	local.IP = ip
	return net.DialTCP(fam, local, raddr)
}

// ResolveIPAddr resolves an IP address.
func (n *Net) ResolveIPAddr(network, address string) (*net.IPAddr, error) {
	return net.ResolveIPAddr(network, address)
}

// ResolveUDPAddr resolves a UDP address.
func (n *Net) ResolveUDPAddr(network, address string) (*net.UDPAddr, error) {
	return net.ResolveUDPAddr(network, address)
}

// ResolveTCPAddr resolves a TCP address.
func (n *Net) ResolveTCPAddr(network, address string) (*net.TCPAddr, error) {
	return net.ResolveTCPAddr(network, address)
}

// Interfaces returns the one virtual interface, holding only the source
// address, so pion ICE gathers exactly one host candidate.
func (n *Net) Interfaces() ([]*transport.Interface, error) {
	return []*transport.Interface{n.iface}, nil
}

// InterfaceByIndex returns the virtual interface if index is 1.
func (n *Net) InterfaceByIndex(index int) (*transport.Interface, error) {
	if index == n.iface.Index {
		return n.iface, nil
	}
	return nil, fmt.Errorf("%w: index=%d", transport.ErrInterfaceNotFound, index)
}

// InterfaceByName returns the virtual interface if name is InterfaceName.
func (n *Net) InterfaceByName(name string) (*transport.Interface, error) {
	if name == n.iface.Name {
		return n.iface, nil
	}
	return nil, fmt.Errorf("%w: %s", transport.ErrInterfaceNotFound, name)
}

// CreateDialer returns a dialer that binds the source address and guards
// like Dial, keeping d's timeout and deadline.
func (n *Net) CreateDialer(d *net.Dialer) transport.Dialer { return dialer{n: n, d: d} }

type dialer struct {
	n *Net
	d *net.Dialer
}

func (d dialer) Dial(network, address string) (net.Conn, error) {
	nd := d.d
	if nd == nil {
		nd = &net.Dialer{}
	}
	return d.n.dial(context.Background(), nd, network, address)
}

// CreateListenConfig returns a listen config that binds the source address.
func (n *Net) CreateListenConfig(lc *net.ListenConfig) transport.ListenConfig {
	if lc == nil {
		lc = &net.ListenConfig{}
	}
	return listenConfig{n: n, lc: lc}
}

type listenConfig struct {
	n  *Net
	lc *net.ListenConfig
}

func (l listenConfig) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	fam, err := l.n.family(network)
	if err != nil || fam[:3] != "tcp" {
		return nil, fmt.Errorf("socket: listen %q: %w", network, transport.ErrNotSupported)
	}
	ip, port, err := l.n.bindHostPort(address)
	if err != nil {
		return nil, err
	}
	return l.lc.Listen(ctx, fam, net.JoinHostPort(ip.String(), strconv.Itoa(port)))
}

func (l listenConfig) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	return l.n.listenPacket(ctx, l.lc, network, address)
}
