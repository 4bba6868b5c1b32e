package gateway

import (
	"net"
	"sync"
)

// readyConn is a net.PacketConn that reports when its reader first calls
// ReadFrom. sipgo registers a UDP listener in its connection pool just before
// its read loop starts, and only then can requests be sent from that socket;
// waiting for the first ReadFrom makes Start return after that, with no sleep.
type readyConn struct {
	net.PacketConn
	once  sync.Once
	ready chan struct{}
}

func newReadyConn(c net.PacketConn) *readyConn {
	return &readyConn{PacketConn: c, ready: make(chan struct{})}
}

func (c *readyConn) ReadFrom(b []byte) (int, net.Addr, error) {
	c.once.Do(func() { close(c.ready) })
	return c.PacketConn.ReadFrom(b)
}
