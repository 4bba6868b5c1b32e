package socket

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/pion/transport/v4"
)

// Dir says which way a datagram went.
type Dir int

// Directions of a datagram, seen from the agent.
const (
	In Dir = iota
	Out
)

func (d Dir) String() string {
	if d == Out {
		return "out"
	}
	return "in"
}

// ObserverFunc sees every UDP datagram in and out of the agent's sockets. It
// runs on the I/O path: it must be quick and must not keep b.
type ObserverFunc func(dir Dir, local, remote net.Addr, b []byte)

// errNotConnected is returned by Write on a socket that has no fixed remote.
var errNotConnected = errors.New("socket: write on an unconnected socket")

// PacketConn is the seam every UDP socket of an agent goes through: it checks
// each destination with the guard before a byte is sent and shows each
// datagram to the observer. It wraps any net.PacketConn (a real socket, or
// later a NAT or impairment simulator), and implements transport.UDPConn so
// pion can use it; UDP-specific methods fall back to the generic ones when
// the inner conn lacks them.
type PacketConn struct {
	inner   net.PacketConn
	remote  net.Addr // fixed remote of a connected socket, else nil
	guard   *Guard
	observe ObserverFunc
	log     *slog.Logger
}

var _ transport.UDPConn = (*PacketConn)(nil)

// NewPacketConn wraps inner. remote is the fixed far end of a connected
// socket (whose inner must then implement io.ReadWriter), or nil. A nil guard
// allows loopback only; observe and log may be nil.
func NewPacketConn(inner net.PacketConn, remote net.Addr, guard *Guard, observe ObserverFunc, log *slog.Logger) *PacketConn {
	if guard == nil {
		guard = NewGuard()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &PacketConn{inner: inner, remote: remote, guard: guard, observe: observe, log: log}
}

// Inner returns the wrapped conn.
func (c *PacketConn) Inner() net.PacketConn { return c.inner }

func (c *PacketConn) check(to net.Addr) error {
	if err := c.guard.CheckAddr(to); err != nil {
		c.log.Warn("send refused by the guard", "local", c.inner.LocalAddr(), "remote", to)
		return &net.OpError{Op: "write", Net: "udp", Source: c.inner.LocalAddr(), Addr: to, Err: err}
	}
	return nil
}

func (c *PacketConn) seen(dir Dir, remote net.Addr, b []byte) {
	if c.observe != nil && len(b) > 0 {
		c.observe(dir, c.inner.LocalAddr(), remote, b)
	}
}

// ReadFrom reads one datagram.
func (c *PacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	if c.remote != nil {
		n, err := c.Read(p)
		return n, c.remote, err
	}
	n, addr, err := c.inner.ReadFrom(p)
	c.seen(In, addr, p[:n])
	return n, addr, err
}

// WriteTo sends one datagram to addr if the guard allows it.
// On a connected socket the datagram goes to the fixed remote, whatever addr
// says, so that is what the guard checks.
func (c *PacketConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if c.remote != nil {
		if w, ok := c.inner.(io.Writer); ok {
			if err := c.check(c.remote); err != nil {
				return 0, err
			}
			c.seen(Out, c.remote, p)
			return w.Write(p)
		}
	}
	if err := c.check(addr); err != nil {
		return 0, err
	}
	c.seen(Out, addr, p)
	return c.inner.WriteTo(p, addr)
}

// Read reads one datagram from a connected socket.
func (c *PacketConn) Read(p []byte) (int, error) {
	if c.remote == nil {
		n, _, err := c.ReadFrom(p)
		return n, err
	}
	r, ok := c.inner.(io.Reader)
	if !ok {
		n, _, err := c.inner.ReadFrom(p)
		c.seen(In, c.remote, p[:n])
		return n, err
	}
	n, err := r.Read(p)
	c.seen(In, c.remote, p[:n])
	return n, err
}

// Write sends one datagram on a connected socket.
func (c *PacketConn) Write(p []byte) (int, error) {
	if c.remote == nil {
		return 0, &net.OpError{Op: "write", Net: "udp", Source: c.inner.LocalAddr(), Err: errNotConnected}
	}
	return c.WriteTo(p, c.remote)
}

// ReadFromUDP is ReadFrom returning a *net.UDPAddr.
func (c *PacketConn) ReadFromUDP(p []byte) (int, *net.UDPAddr, error) {
	n, addr, err := c.ReadFrom(p)
	ua, _ := addr.(*net.UDPAddr)
	return n, ua, err
}

// WriteToUDP is WriteTo taking a *net.UDPAddr.
func (c *PacketConn) WriteToUDP(p []byte, addr *net.UDPAddr) (int, error) {
	return c.WriteTo(p, addr)
}

type msgConn interface {
	ReadMsgUDP(b, oob []byte) (n, oobn, flags int, addr *net.UDPAddr, err error)
	WriteMsgUDP(b, oob []byte, addr *net.UDPAddr) (n, oobn int, err error)
}

// ReadMsgUDP reads a datagram and its out-of-band data when the inner conn
// supports it (else no out-of-band data).
func (c *PacketConn) ReadMsgUDP(b, oob []byte) (int, int, int, *net.UDPAddr, error) {
	m, ok := c.inner.(msgConn)
	if !ok {
		n, addr, err := c.ReadFromUDP(b)
		return n, 0, 0, addr, err
	}
	n, oobn, flags, addr, err := m.ReadMsgUDP(b, oob)
	from := net.Addr(addr)
	if addr == nil {
		from = c.remote
	}
	c.seen(In, from, b[:n])
	return n, oobn, flags, addr, err
}

// WriteMsgUDP sends a datagram with out-of-band data when the inner conn
// supports it; addr is nil on a connected socket.
func (c *PacketConn) WriteMsgUDP(b, oob []byte, addr *net.UDPAddr) (int, int, error) {
	to := net.Addr(addr)
	if addr == nil {
		to = c.remote
	}
	if err := c.check(to); err != nil {
		return 0, 0, err
	}
	m, ok := c.inner.(msgConn)
	if !ok {
		if addr == nil {
			n, err := c.Write(b)
			return n, 0, err
		}
		n, err := c.WriteTo(b, addr)
		return n, 0, err
	}
	c.seen(Out, to, b)
	return m.WriteMsgUDP(b, oob, addr)
}

// Close closes the inner conn.
func (c *PacketConn) Close() error { return c.inner.Close() }

// LocalAddr returns the bound address (the agent's source IP).
func (c *PacketConn) LocalAddr() net.Addr { return c.inner.LocalAddr() }

// RemoteAddr returns the fixed far end of a connected socket, or nil.
func (c *PacketConn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets both deadlines of the inner conn.
func (c *PacketConn) SetDeadline(t time.Time) error { return c.inner.SetDeadline(t) }

// SetReadDeadline sets the read deadline of the inner conn.
func (c *PacketConn) SetReadDeadline(t time.Time) error { return c.inner.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline of the inner conn.
func (c *PacketConn) SetWriteDeadline(t time.Time) error { return c.inner.SetWriteDeadline(t) }

type bufferSetter interface {
	SetReadBuffer(int) error
	SetWriteBuffer(int) error
}

// SetReadBuffer sets the receive buffer size when the inner conn has one.
func (c *PacketConn) SetReadBuffer(n int) error {
	if b, ok := c.inner.(bufferSetter); ok {
		return b.SetReadBuffer(n)
	}
	return fmt.Errorf("socket: %T has no read buffer: %w", c.inner, transport.ErrNotSupported)
}

// SetWriteBuffer sets the send buffer size when the inner conn has one.
func (c *PacketConn) SetWriteBuffer(n int) error {
	if b, ok := c.inner.(bufferSetter); ok {
		return b.SetWriteBuffer(n)
	}
	return fmt.Errorf("socket: %T has no write buffer: %w", c.inner, transport.ErrNotSupported)
}
