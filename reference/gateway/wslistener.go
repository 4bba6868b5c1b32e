package gateway

import (
	"net"
	"sync"
	"time"
)

// wsListener wraps the SIP-over-WebSocket TCP listener handed to sipgo. It
// bounds the opening handshake (sipgo upgrades in its accept loop with no
// deadline, so a silent client would stall every other one), keeps every
// connection so Close can close them all and wait until sipgo's reader has
// seen the close, and reports each connection that ends.
type wsListener struct {
	net.Listener
	handshake time.Duration
	onEnd     func(remote string)

	mu     sync.Mutex
	closed bool
	conns  map[*wsConn]struct{}
}

func newWSListener(l net.Listener, handshake time.Duration, onEnd func(remote string)) *wsListener {
	return &wsListener{Listener: l, handshake: handshake, onEnd: onEnd, conns: map[*wsConn]struct{}{}}
}

func (l *wsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	wc := &wsConn{Conn: c, l: l, remote: c.RemoteAddr().String(), idle: make(chan struct{})}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	l.conns[wc] = struct{}{}
	// Cleared after the handshake response is written (see wsConn.Write).
	_ = c.SetDeadline(time.Now().Add(l.handshake))
	return wc, nil
}

// live reports whether a WebSocket connection from remote is still open, so
// requests toward a browser are never sent on a connection sipgo would have
// to dial (browsers cannot be dialed).
func (l *wsListener) live(remote string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		if c.remote == remote {
			return true
		}
	}
	return false
}

// Close closes the listener and every connection, then waits until no
// reader is blocked in one of them.
func (l *wsListener) Close() error {
	err := l.Listener.Close()
	l.mu.Lock()
	l.closed = true
	conns := make([]*wsConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
	for _, c := range conns {
		<-c.idle
	}
	return err
}

func (l *wsListener) forget(c *wsConn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
	if l.onEnd != nil {
		l.onEnd(c.remote)
	}
}

// wsConn counts the reads in flight so Close can wait for them.
type wsConn struct {
	net.Conn
	l      *wsListener
	remote string

	handshook sync.Once
	ended     sync.Once

	mu     sync.Mutex
	reads  int
	closed bool
	idle   chan struct{} // closed once closed && reads == 0
}

func (c *wsConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	c.reads++
	c.mu.Unlock()

	n, err := c.Conn.Read(b)

	c.mu.Lock()
	c.reads--
	if c.closed && c.reads == 0 {
		close(c.idle)
	}
	c.mu.Unlock()
	if err != nil {
		c.end()
	}
	return n, err
}

func (c *wsConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.handshook.Do(func() { _ = c.Conn.SetDeadline(time.Time{}) })
	return n, err
}

// Close closes the connection; closing it again is a no-op (sipgo and the
// listener may both close it).
func (c *wsConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	if c.reads == 0 {
		close(c.idle)
	}
	c.mu.Unlock()
	err := c.Conn.Close()
	c.end()
	return err
}

func (c *wsConn) end() {
	c.ended.Do(func() { c.l.forget(c) })
}
