package gateway

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Stream bounds: the largest message (sipgo's own bound, so every message
// handed on is one sipgo takes), how long an incomplete message may take
// to arrive whole (64*T1, as long as a transaction waits for an answer),
// how long a stateless answer may take to write, and how long a connection
// whose framing is lost lingers before it is closed.
const (
	maxStreamMessage  = 65535
	incompleteTimeout = 32 * time.Second
	answerTimeout     = 5 * time.Second
	lingerTime        = time.Second
)

// malformedListener is a SIP TCP or TLS listener as sipgo accepts from it.
// sipgo reads a stream in a goroutine per connection and closes a
// connection whose bytes it cannot parse, silently: no 400 for a request
// that is framed well but does not parse, and no bound on how long an
// incomplete message may keep a connection. So each connection's bytes are
// framed here first (malformedStream): CRLFs between messages (RFC 3261
// 7.5, RFC 5626 keepalives) and whole messages that parse are handed on;
// a request that is framed but does not parse is answered as over UDP
// (malformedStatus: 400, 416, 505) and the connection reads on; a message
// whose framing is lost (no Content-Length, RFC 3261 20.14; several, or
// one that is not a number; more than maxStreamMessage bytes) is answered
// 400, 413 or 513 when it is a request that says where, and its
// connection closed after a short linger; an incomplete message that is
// not whole within incompleteTimeout gets its connection closed (RFC 4475
// 3.1.2.2); and a TLS handshake gets the wss front's deadline.
//
// Weakened (malformed-input), bytes go to sipgo as they come and the
// listener behaves as a server that reads a message at a time: while any
// connection holds an incomplete message (a new connection does until its
// first message is whole), no other connection is accepted, however long
// that takes; so one connection that promises more than it sends stops
// SIP over this transport for everyone else.
type malformedListener struct {
	net.Listener
	weak   bool
	log    *slog.Logger
	parser *sip.Parser

	done      chan struct{}
	closeOnce sync.Once

	mu      sync.Mutex
	partial int           // weak: connections holding an incomplete message
	idle    chan struct{} // weak: closed while partial is 0
}

func newMalformedListener(l net.Listener, weak bool, log *slog.Logger) *malformedListener {
	idle := make(chan struct{})
	close(idle)
	return &malformedListener{Listener: l, weak: weak, log: log, parser: sip.NewParser(), done: make(chan struct{}), idle: idle}
}

// Accept returns the next connection, framed; weakened, only once no
// connection holds an incomplete message, a new one counting as such
// until its first message is whole.
func (l *malformedListener) Accept() (net.Conn, error) {
	for l.weak {
		l.mu.Lock()
		idle := l.idle
		l.mu.Unlock()
		select {
		case <-l.done:
			return nil, net.ErrClosed
		case <-idle:
		}
		l.mu.Lock()
		free := l.partial == 0
		l.mu.Unlock()
		if free {
			break
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	s := &malformedStream{Conn: c, l: l}
	if l.weak {
		s.hold(true) // until its first message is whole
	}
	return s, nil
}

func (l *malformedListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// hold counts a connection in or out of those holding an incomplete
// message (weakened).
func (l *malformedListener) hold(in bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if in {
		if l.partial == 0 {
			l.idle = make(chan struct{})
		}
		l.partial++
		return
	}
	l.partial--
	if l.partial == 0 {
		close(l.idle)
	}
}

// malformedStream is one accepted connection as sipgo reads it (see
// malformedListener). Read runs in sipgo's reader goroutine only; Write
// may come from any goroutine and is serialised with the answers written
// here.
type malformedStream struct {
	net.Conn
	l *malformedListener

	chunk   []byte    // what one read of the connection fills
	buf     []byte    // read, not yet handed on
	out     []byte    // handed on, not yet read by sipgo
	started time.Time // when the incomplete message in buf began
	closing bool      // hand sipgo io.EOF once out is read

	wmu sync.Mutex

	hmu  sync.Mutex
	held bool // weak: counted in l.partial
}

func (c *malformedStream) Read(b []byte) (int, error) {
	if c.l.weak {
		return c.readWeak(b)
	}
	if err := c.handshake(); err != nil {
		return 0, err
	}
	for {
		if len(c.out) > 0 {
			n := copy(b, c.out)
			c.out = c.out[n:]
			return n, nil
		}
		if c.closing {
			c.linger()
			return 0, io.EOF
		}
		if c.frame() {
			continue
		}
		if err := c.fill(); err != nil {
			return 0, err
		}
	}
}

// linger reads and drops what the client still sends, for up to
// lingerTime, before sipgo closes the connection: answers to requests
// still being handled go out meanwhile, and unread bytes from the client
// do not turn the close into a reset that would destroy the answer just
// written (the lingering close of RFC 9112 9.6, for the same reason).
func (c *malformedStream) linger() {
	if err := c.Conn.SetReadDeadline(time.Now().Add(lingerTime)); err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(c.Conn, maxStreamMessage))
}

// handshake completes a TLS connection's handshake within
// wsHandshakeTimeout, as the wss front does, so that a client that
// connects and never finishes it does not hold the connection forever.
func (c *malformedStream) handshake() error {
	tc, ok := c.Conn.(*tls.Conn)
	if !ok || tc.ConnectionState().HandshakeComplete {
		return nil
	}
	if err := tc.SetDeadline(time.Now().Add(wsHandshakeTimeout)); err != nil {
		return err
	}
	if err := tc.Handshake(); err != nil {
		c.l.log.Debug("SIP TLS: handshake failed", "remote", c.RemoteAddr(), "error", err)
		return err
	}
	return tc.SetDeadline(time.Time{})
}

// fill reads more bytes into buf; an incomplete message gets what is left
// of its incompleteTimeout, and its connection io.EOF when that passes.
func (c *malformedStream) fill() error {
	deadline := time.Time{}
	if len(c.buf) > 0 {
		deadline = c.started.Add(incompleteTimeout)
	}
	if err := c.Conn.SetReadDeadline(deadline); err != nil {
		return err
	}
	if c.chunk == nil {
		c.chunk = make([]byte, 16<<10)
	}
	n, err := c.Conn.Read(c.chunk)
	if n > 0 {
		if len(c.buf) == 0 {
			c.started = time.Now()
		}
		c.buf = append(c.buf, c.chunk[:n]...)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.l.log.Debug("SIP stream: an incomplete message timed out", "remote", c.RemoteAddr(), "bytes", len(c.buf))
		return io.EOF
	}
	if n > 0 {
		return nil
	}
	return err
}

// frame moves the next unit in buf to out (or answers it), and reports
// whether there was a whole one.
func (c *malformedStream) frame() bool {
	f := frameStream(c.buf)
	switch f.kind {
	case frameMore:
		return false
	case frameKeepalive:
		c.out = append(c.out, c.buf[:f.n]...)
	case frameLost:
		c.l.log.Debug("SIP stream: framing lost", "remote", c.RemoteAddr(), "answer", f.status, "reason", f.reason)
		c.answer(c.buf, f.status, f.reason)
		c.closing = true
		c.buf = nil
		return true
	case frameMessage:
		c.message(c.buf[:f.n])
	}
	c.buf = c.buf[f.n:]
	if len(c.buf) > 0 {
		c.started = time.Now()
	}
	return true
}

// message hands on a whole message that parses, and answers one that does
// not (or that only its raw text shows to be wrong) as over UDP.
func (c *malformedStream) message(data []byte) {
	msg, err := c.l.parser.ParseSIP(data)
	if err != nil {
		status, reason := malformedStatus(data)
		c.l.log.Debug("SIP stream: a message that does not parse", "remote", c.RemoteAddr(), "error", err, "answer", status)
		c.answer(data, status, reason)
		return
	}
	if req, ok := msg.(*sip.Request); ok && !req.IsAck() {
		if status, reason := rawRefusal(data); status != 0 {
			c.answer(data, status, reason)
			return
		}
	}
	c.out = append(c.out, data...)
}

// answer writes a stateless answer on this connection (RFC 3261 18.2.2: a
// stream's answers go back on it), unless status is 0 or the message lacks
// what an answer needs.
func (c *malformedStream) answer(data []byte, status int, reason string) {
	if status == 0 {
		return
	}
	res, _ := statelessAnswer(data, status, reason)
	if res == nil {
		return
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.Conn.SetWriteDeadline(time.Now().Add(answerTimeout)); err == nil {
		_, err = c.Conn.Write(res)
		if err != nil {
			c.l.log.Debug("SIP stream: answer not sent", "remote", c.RemoteAddr(), "error", err)
		}
	}
	_ = c.Conn.SetWriteDeadline(time.Time{})
}

func (c *malformedStream) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.Conn.Write(b)
}

// readWeak hands sipgo the bytes as they come, framing them only to know
// whether an incomplete message is pending.
func (c *malformedStream) readWeak(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.buf = append(c.buf, b[:n]...)
		for {
			f := frameStream(c.buf)
			if f.kind == frameMore || f.kind == frameLost {
				if f.kind == frameLost {
					c.buf = nil // sipgo closes the connection
				}
				break
			}
			c.buf = c.buf[f.n:]
		}
		c.hold(len(c.buf) > 0)
	}
	if err != nil {
		c.hold(false)
	}
	return n, err
}

func (c *malformedStream) hold(in bool) {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	if c.held != in {
		c.held = in
		c.l.hold(in)
	}
}

func (c *malformedStream) Close() error {
	if c.l.weak {
		c.hold(false)
	}
	return c.Conn.Close()
}

// What the next bytes of a stream are.
const (
	frameMore      = iota // not yet whole
	frameKeepalive        // CRLFs before a start line
	frameMessage          // a whole message
	frameLost             // no way to tell where the message ends
)

// streamUnit is the next unit of a SIP stream: its kind and length, and for
// frameLost the answer a request gets.
type streamUnit struct {
	kind   int
	n      int
	status int
	reason string
}

// frameStream finds the next unit in buf: up to 4 CRLF bytes before a
// start line (a keepalive, RFC 5626 3.5.1, which RFC 3261 7.5 has ignored
// there), or a message framed by its one Content-Length (RFC 3261 7.5,
// 18.3), at most maxStreamMessage bytes long.
func frameStream(buf []byte) streamUnit {
	if n := len(buf) - len(bytes.TrimLeft(buf, "\r\n")); n > 0 {
		return streamUnit{kind: frameKeepalive, n: min(n, 4)}
	}
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		if len(buf) > maxStreamMessage {
			return streamUnit{kind: frameLost, status: sip.StatusMessageTooLarge, reason: "Message Too Large"}
		}
		return streamUnit{kind: frameMore}
	}
	head := end + 4
	lengths := readHead(buf[:head]).all("content-length")
	switch {
	case len(lengths) == 0:
		return streamUnit{kind: frameLost, status: sip.StatusBadRequest, reason: "Content-Length Required On A Stream"}
	case len(lengths) > 1:
		return streamUnit{kind: frameLost, status: sip.StatusBadRequest, reason: "Duplicate Content-Length"}
	}
	v := strings.TrimSpace(lengths[0])
	if v == "" || strings.Trim(v, "0123456789") != "" {
		return streamUnit{kind: frameLost, status: sip.StatusBadRequest, reason: "Bad Content-Length"}
	}
	body, err := strconv.Atoi(v)
	if err != nil || body > maxStreamMessage-head {
		return streamUnit{kind: frameLost, status: sip.StatusRequestEntityTooLarge, reason: "Request Entity Too Large"}
	}
	if len(buf) < head+body {
		return streamUnit{kind: frameMore}
	}
	return streamUnit{kind: frameMessage, n: head + body}
}
