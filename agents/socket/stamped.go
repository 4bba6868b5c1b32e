package socket

import (
	"net"
	"time"
)

// StampedReader is a conn that knows when each datagram reached it: a layer
// that stands for the network (a NAT, an impairment) delivers a datagram at
// a moment of its own, and the reader's goroutine may run a little later,
// by as much as the scheduler pleases on a loaded machine. Receivers take
// the stamp as the arrival time, so that figures such as jitter and
// one-way delay describe the path rather than the harness's scheduling.
type StampedReader interface {
	ReadFromStamped(p []byte) (n int, addr net.Addr, at time.Time, err error)
}

// ReadFromStamped reads one datagram from c with the moment it arrived: c's
// own stamp when c keeps one, else the moment the read returned.
func ReadFromStamped(c net.PacketConn, p []byte) (int, net.Addr, time.Time, error) {
	if s, ok := c.(StampedReader); ok {
		return s.ReadFromStamped(p)
	}
	n, addr, err := c.ReadFrom(p)
	return n, addr, time.Now(), err
}

// ReadFromStamped reads one datagram with the moment it arrived, as
// ReadFrom does (the observer sees it, a connected socket names its far
// end), taking the stamp of the layer beneath when it keeps one.
func (c *PacketConn) ReadFromStamped(p []byte) (int, net.Addr, time.Time, error) {
	s, ok := c.inner.(StampedReader)
	if !ok {
		n, addr, err := c.ReadFrom(p)
		return n, addr, time.Now(), err
	}
	n, addr, at, err := s.ReadFromStamped(p)
	if c.remote != nil {
		addr = c.remote
	}
	c.seen(In, addr, p[:n])
	return n, addr, at, err
}
