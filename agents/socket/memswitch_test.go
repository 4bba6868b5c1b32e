package socket_test

import (
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// memSwitch is an in-memory datagram network for the guard tests: every
// socket under test is a memConn attached to it, so nothing ever reaches a
// real socket. Datagrams to an attached address are delivered; the rest
// are dropped. Conns attached with a recorder log every datagram they are
// asked to send, delivered or not.
type memSwitch struct {
	mu    sync.Mutex
	ports map[netip.AddrPort]*memConn
}

func newMemSwitch() *memSwitch { return &memSwitch{ports: map[netip.AddrPort]*memConn{}} }

// sentDatagram is one datagram a recorded conn was asked to send.
type sentDatagram struct {
	from, to netip.AddrPort
	b        []byte
}

// sendLog keeps what recorded conns were asked to send.
type sendLog struct {
	mu   sync.Mutex
	sent []sentDatagram
}

func (r *sendLog) add(s sentDatagram) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, s)
}

func (r *sendLog) all() []sentDatagram {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sentDatagram(nil), r.sent...)
}

type datagram struct {
	from netip.AddrPort
	b    []byte
}

// attach puts a conn on the switch at addr (replacing none: addresses are
// unique), recording its sends into rec when rec is not nil.
func (s *memSwitch) attach(addr netip.AddrPort, rec *sendLog) *memConn {
	c := &memConn{sw: s, local: addr, rec: rec, in: make(chan datagram, 256), done: make(chan struct{})}
	s.mu.Lock()
	s.ports[addr] = c
	s.mu.Unlock()
	return c
}

func (s *memSwitch) deliver(from, to netip.AddrPort, b []byte) {
	s.mu.Lock()
	dst := s.ports[netip.AddrPortFrom(to.Addr().Unmap(), to.Port())]
	s.mu.Unlock()
	if dst == nil {
		return
	}
	select {
	case dst.in <- datagram{from: from, b: append([]byte(nil), b...)}:
	case <-dst.done:
	default: // a full queue drops, as a network would
	}
}

// recorderWrapper is a socket.WithPacketWrapper that closes the real
// socket the Net opened and puts a recorded memConn at its address in its
// place: the socket under the guard records and never sends.
func (s *memSwitch) recorderWrapper(rec *sendLog) func(net.PacketConn) net.PacketConn {
	return func(real net.PacketConn) net.PacketConn {
		addr := real.LocalAddr().(*net.UDPAddr).AddrPort()
		_ = real.Close() // nothing was sent on it; only its port is kept
		return s.attach(netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port()), rec)
	}
}

// memConn is a net.PacketConn on a memSwitch.
type memConn struct {
	sw    *memSwitch
	local netip.AddrPort
	rec   *sendLog
	in    chan datagram
	done  chan struct{}
	once  sync.Once

	mu       sync.Mutex
	deadline time.Time
}

var errTimeout = &timeoutError{}

type timeoutError struct{}

func (*timeoutError) Error() string   { return "i/o timeout" }
func (*timeoutError) Timeout() bool   { return true }
func (*timeoutError) Temporary() bool { return true }
func (*timeoutError) Unwrap() error   { return os.ErrDeadlineExceeded }

func (c *memConn) ReadFrom(p []byte) (int, net.Addr, error) {
	c.mu.Lock()
	dl := c.deadline
	c.mu.Unlock()
	var expired <-chan time.Time
	if !dl.IsZero() {
		t := time.NewTimer(time.Until(dl))
		defer t.Stop()
		expired = t.C
	}
	select {
	case d := <-c.in:
		return copy(p, d.b), net.UDPAddrFromAddrPort(d.from), nil
	case <-c.done:
		return 0, nil, net.ErrClosed
	case <-expired:
		return 0, nil, &net.OpError{Op: "read", Net: "udp", Err: errTimeout}
	}
}

func (c *memConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	select {
	case <-c.done:
		return 0, net.ErrClosed
	default:
	}
	to, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return 0, err
	}
	if c.rec != nil {
		c.rec.add(sentDatagram{from: c.local, to: to, b: append([]byte(nil), p...)})
	}
	c.sw.deliver(c.local, to, p)
	return len(p), nil
}

func (c *memConn) Close() error {
	c.once.Do(func() {
		close(c.done)
		c.sw.mu.Lock()
		if c.sw.ports[c.local] == c {
			delete(c.sw.ports, c.local)
		}
		c.sw.mu.Unlock()
	})
	return nil
}

func (c *memConn) LocalAddr() net.Addr { return net.UDPAddrFromAddrPort(c.local) }

func (c *memConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

func (c *memConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	return nil
}

func (c *memConn) SetWriteDeadline(time.Time) error { return nil }
