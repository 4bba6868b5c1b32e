package nat

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/pion/transport/v4/deadline"
)

// inboundQueue bounds the datagrams waiting for ReadFrom, as a socket's
// receive buffer would; beyond it they are dropped.
const inboundQueue = 1024

type packet struct {
	b    []byte
	from net.Addr
	at   time.Time // when it passed the filter: when the NAT delivered it
}

// conn is one socket behind the NAT.
type conn struct {
	n     *NAT
	inner net.PacketConn // bound to the private address; never read or written
	in    chan packet
	dl    *deadline.Deadline
	done  chan struct{}
	wg    sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	mappings map[netip.AddrPort]*mapping
}

// mapping is one public transport address and what its filter has learned.
type mapping struct {
	sock    net.PacketConn
	lastOut time.Time
	allowed map[netip.AddrPort]time.Time // filter key -> last datagram sent there
}

func newConn(n *NAT, inner net.PacketConn) *conn {
	return &conn{
		n:        n,
		inner:    inner,
		in:       make(chan packet, inboundQueue),
		dl:       deadline.New(),
		done:     make(chan struct{}),
		mappings: map[netip.AddrPort]*mapping{},
	}
}

func addrPort(a net.Addr) (netip.AddrPort, error) {
	if ua, ok := a.(*net.UDPAddr); ok {
		ap := ua.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("nat: address %v: %w", a, err)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// WriteTo sends p to addr through the mapping the NAT's behaviour selects,
// creating it (a new public port) when there is none or it expired.
func (c *conn) WriteTo(p []byte, addr net.Addr) (int, error) {
	dst, err := addrPort(addr)
	if err != nil {
		return 0, err
	}
	m, err := c.mapping(dst)
	if err != nil {
		return 0, err
	}
	return m.sock.WriteTo(p, net.UDPAddrFromAddrPort(dst))
}

func (c *conn) mapping(dst netip.AddrPort) (*mapping, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, net.ErrClosed
	}
	now := c.n.cfg.Now()
	key := c.n.mappingKey(dst)
	m := c.mappings[key]
	if m != nil && now.Sub(m.lastOut) > c.n.cfg.MappingTimeout {
		_ = m.sock.Close() // its read loop ends
		delete(c.mappings, key)
		m = nil
	}
	if m == nil {
		network := "udp4"
		if c.n.cfg.Public.Is6() {
			network = "udp6"
		}
		sock, err := net.ListenPacket(network, net.JoinHostPort(c.n.cfg.Public.String(), "0"))
		if err != nil {
			return nil, fmt.Errorf("nat: public socket on %s: %w", c.n.cfg.Public, err)
		}
		m = &mapping{sock: sock, allowed: map[netip.AddrPort]time.Time{}}
		c.mappings[key] = m
		c.n.mappings.Add(1)
		c.n.log.Debug("mapping created", "private", c.inner.LocalAddr().String(),
			"public", sock.LocalAddr().String(), "for", dst.String())
		c.wg.Go(func() { c.readLoop(m) })
	}
	m.lastOut = now
	m.allowed[c.n.filterKey(dst)] = now
	return m, nil
}

// permit applies the filter to a datagram from src on mapping m.
func (c *conn) permit(m *mapping, src netip.AddrPort) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.n.cfg.Now()
	if now.Sub(m.lastOut) > c.n.cfg.MappingTimeout {
		return false
	}
	if c.n.cfg.Filtering == EndpointIndependent {
		return true
	}
	t, ok := m.allowed[c.n.filterKey(src)]
	return ok && now.Sub(t) <= c.n.cfg.MappingTimeout
}

func (c *conn) readLoop(m *mapping) {
	buf := make([]byte, 64*1024)
	for {
		n, from, err := m.sock.ReadFrom(buf)
		if err != nil {
			return
		}
		src, err := addrPort(from)
		if err != nil || !c.permit(m, src) {
			c.n.dropped.Add(1)
			continue
		}
		select {
		case c.in <- packet{b: append([]byte(nil), buf[:n]...), from: from, at: time.Now()}:
		case <-c.done:
			return
		default: // a full receive buffer drops
		}
	}
}

// ReadFrom returns the next datagram that passed the filter.
func (c *conn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, from, _, err := c.ReadFromStamped(p)
	return n, from, err
}

// ReadFromStamped is ReadFrom with the moment the datagram passed the
// filter, which is when the NAT delivered it to the private side.
func (c *conn) ReadFromStamped(p []byte) (int, net.Addr, time.Time, error) {
	select {
	case pk := <-c.in:
		return copy(p, pk.b), pk.from, pk.at, nil
	case <-c.done:
		return 0, nil, time.Time{}, net.ErrClosed
	case <-c.dl.Done():
		return 0, nil, time.Time{}, &net.OpError{Op: "read", Net: "udp", Source: c.LocalAddr(), Err: os.ErrDeadlineExceeded}
	}
}

// LocalAddr is the private address: what the agent believes it is bound to.
func (c *conn) LocalAddr() net.Addr { return c.inner.LocalAddr() }

// SetDeadline sets the read deadline (writes never block).
func (c *conn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// SetReadDeadline sets the read deadline.
func (c *conn) SetReadDeadline(t time.Time) error {
	c.dl.Set(t)
	return nil
}

// SetWriteDeadline is accepted and ignored: writes never block.
func (c *conn) SetWriteDeadline(time.Time) error { return nil }

// Close closes the private socket and every mapping, and waits for their
// read loops.
func (c *conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.done)
	for _, m := range c.mappings {
		_ = m.sock.Close()
	}
	c.mu.Unlock()
	err := c.inner.Close()
	c.wg.Wait()
	return err
}
