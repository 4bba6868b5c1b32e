package turn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
)

// tracker counts the pion goroutines the server must see end before Close
// returns: each tracked thing calls its done func exactly once.
type tracker struct {
	wg sync.WaitGroup
}

func (t *tracker) add() func() {
	t.wg.Add(1)
	var once sync.Once
	return func() { once.Do(t.wg.Done) }
}

// frontPacketConn is a UDP listener as pion sees it: every datagram passes
// the front first; replies the front makes go straight back.
type frontPacketConn struct {
	net.PacketConn
	f    *front
	done func()
	last net.Addr // source of the message pion has (only pion's read goroutine uses it)
}

func (c *frontPacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	if c.last != nil {
		c.f.done(c.last)
		c.last = nil
	}
	for {
		n, src, err := c.PacketConn.ReadFrom(p)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				c.done()
			}
			return n, src, err
		}
		out, v := c.f.inspect(p[:n], src, c.LocalAddr())
		switch v {
		case pass:
			if out != nil {
				if len(out) >= len(p) {
					continue
				}
				n = copy(p, out)
			}
			c.last = src
			return n, src, nil
		case reply:
			if _, err := c.PacketConn.WriteTo(out, src); err != nil {
				c.f.log.Debug("front reply not sent", "src", src.String(), "err", err)
			}
		}
	}
}

// frontListener hands pion stream connections whose frames pass the front.
type frontListener struct {
	net.Listener
	f     *front
	track *tracker
	done  func()

	mu     sync.Mutex
	conns  map[*frontConn]struct{}
	closed bool
}

func (l *frontListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		l.done()
		return nil, err
	}
	fc := &frontConn{Conn: c, f: l.f, l: l, done: l.track.add()}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		_ = c.Close()
		fc.done()
		return nil, net.ErrClosed
	}
	l.conns[fc] = struct{}{}
	return fc, nil
}

// closeConns closes every accepted connection under pion's feet, so that
// its per-connection goroutines end.
func (l *frontListener) closeConns() {
	l.mu.Lock()
	l.closed = true
	conns := make([]*frontConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		_ = c.Conn.Close()
	}
}

// frontConn frames a TURN stream (RFC 8656 10.1: STUN messages and
// ChannelData padded to 4 bytes) and passes each frame through the front;
// pion reads the frames that pass, one per Read.
type frontConn struct {
	net.Conn
	f    *front
	l    *frontListener
	done func()

	in   []byte // read, not yet framed
	out  []byte // the passed frame, not yet read by pion
	buf  [4096]byte
	fed  bool // pion has had a frame since the last Read
	once sync.Once
}

var errFraming = errors.New("turn: stream is not STUN or ChannelData")

func (c *frontConn) Read(p []byte) (int, error) {
	if len(c.out) > 0 {
		n := copy(p, c.out)
		c.out = c.out[n:]
		return n, nil
	}
	if c.fed {
		c.f.done(c.RemoteAddr())
		c.fed = false
	}
	for {
		size, err := frameSize(c.in)
		if err != nil {
			return 0, err
		}
		if size == 0 || len(c.in) < size {
			n, err := c.Conn.Read(c.buf[:])
			if err != nil {
				return 0, err
			}
			c.in = append(c.in, c.buf[:n]...)
			continue
		}
		frame := c.in[:size:size]
		c.in = c.in[size:]
		if len(c.in) == 0 {
			c.in = nil
		}
		out, v := c.f.inspect(frame, c.RemoteAddr(), c.LocalAddr())
		switch v {
		case pass:
			if out == nil {
				out = frame
			}
			c.fed = true
			n := copy(p, out)
			c.out = append(c.out[:0], out[n:]...)
			return n, nil
		case reply:
			if _, err := c.Conn.Write(out); err != nil {
				return 0, fmt.Errorf("turn: front reply: %w", err)
			}
		}
	}
}

// frameSize is the size of the frame b starts with, 0 when b is too short
// to tell.
func frameSize(b []byte) (int, error) {
	if len(b) < 4 {
		return 0, nil
	}
	l := int(binary.BigEndian.Uint16(b[2:4]))
	switch b[0] & 0xC0 {
	case 0x00:
		return 20 + l, nil
	case 0x40:
		return 4 + (l+3)&^3, nil
	}
	return 0, errFraming
}

// Close is called by pion when its goroutine for the connection ends.
func (c *frontConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
		c.done()
	})
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
