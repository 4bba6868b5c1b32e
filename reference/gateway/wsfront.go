package gateway

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// maxPendingHandshakes bounds the WebSocket handshakes in flight per
// listener; connections beyond it are closed at once.
const maxPendingHandshakes = 1024

// maxUpgradeRequest bounds the HTTP upgrade request.
const maxUpgradeRequest = 16 << 10

// admission is what an upgrade request gets: 0 to upgrade, else an HTTP
// status with headers (429 with Retry-After, 401, 400). subject is the
// bearer token's subject, if any.
type admission struct {
	status  int
	header  http.Header
	subject string
}

// wsFront is the WebSocket (or, with TLS, secure WebSocket) listener in
// front of sipgo. It runs each TLS and HTTP upgrade handshake in a
// goroutine of its own with a deadline, so one slow client holds up no
// other; it answers the upgrade itself (HTTP 429 beyond the rate limit,
// 401 without a valid bearer token, 400 without the sip subprotocol, else
// 101 with Sec-WebSocket-Protocol: sip), then hands sipgo a connection that
// replays a minimal upgrade request and swallows sipgo's own 101. It keeps
// every connection so Close can close them all and wait until sipgo's
// reader has seen the close, and reports each connection that ends.
type wsFront struct {
	ln        net.Listener
	tls       *tls.Config
	handshake time.Duration
	admit     func(r *http.Request, remote string) admission
	onEnd     func(remote string)
	log       *slog.Logger
	// weak is malformed-input weakened: the first message that does not
	// parse closes the listener (silence), as an accept loop that returns
	// on a parse error would; SIP over WebSocket then takes no new
	// connection. Hardened, every message goes to sipgo, which answers it
	// or closes that one connection.
	weak     bool
	silenced atomic.Bool

	conns chan *wsConn
	done  chan struct{}
	work  *routines

	mu          sync.Mutex
	closed      bool
	handshaking map[net.Conn]struct{}
	live        map[*wsConn]struct{}
}

func newWSFront(ln net.Listener, tlsConfig *tls.Config, handshake time.Duration, log *slog.Logger,
	admit func(*http.Request, string) admission, onEnd func(string), weak bool) *wsFront {
	f := &wsFront{
		ln: ln, tls: tlsConfig, handshake: handshake, admit: admit, onEnd: onEnd, log: log, weak: weak,
		conns: make(chan *wsConn), done: make(chan struct{}), work: newRoutines(),
		handshaking: map[net.Conn]struct{}{}, live: map[*wsConn]struct{}{},
	}
	f.work.Go(f.acceptLoop)
	return f
}

func (f *wsFront) secure() bool { return f.tls != nil }

func (f *wsFront) acceptLoop() {
	for {
		raw, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		if f.closed || len(f.handshaking) >= maxPendingHandshakes {
			f.mu.Unlock()
			_ = raw.Close()
			continue
		}
		f.handshaking[raw] = struct{}{}
		f.mu.Unlock()
		if !f.work.Go(func() { f.upgrade(raw) }) {
			_ = raw.Close()
		}
	}
}

// upgrade runs one connection's handshakes and hands it to sipgo.
func (f *wsFront) upgrade(raw net.Conn) {
	handed := false
	defer func() {
		f.mu.Lock()
		delete(f.handshaking, raw)
		f.mu.Unlock()
		if !handed {
			_ = raw.Close()
		}
	}()
	_ = raw.SetDeadline(time.Now().Add(f.handshake))
	var conn net.Conn = raw
	if f.tls != nil {
		tc := tls.Server(raw, f.tls)
		if err := tc.Handshake(); err != nil {
			f.log.Debug("wss: TLS handshake failed", "remote", raw.RemoteAddr(), "error", err)
			return
		}
		conn = tc
	}
	br := bufio.NewReaderSize(io.LimitReader(conn, maxUpgradeRequest), 4096)
	req, err := http.ReadRequest(br)
	if err != nil {
		writeHTTP(conn, http.StatusBadRequest, nil)
		return
	}
	remote := raw.RemoteAddr().String()
	key, ok := checkUpgrade(req)
	if !ok {
		writeHTTP(conn, http.StatusBadRequest, nil)
		return
	}
	if !wantsSIP(req) {
		writeHTTP(conn, http.StatusBadRequest, http.Header{"X-Reason": {"the sip subprotocol is required (RFC 7118)"}})
		return
	}
	adm := f.admit(req, remote)
	if adm.status != 0 {
		writeHTTP(conn, adm.status, adm.header)
		return
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + acceptKey(key) + "\r\nSec-WebSocket-Protocol: sip\r\n\r\n"
	if _, err := io.WriteString(conn, resp); err != nil {
		return
	}
	_ = raw.SetDeadline(time.Time{})
	leftover, _ := br.Peek(br.Buffered())
	wc := &wsConn{
		Conn: conn, f: f, remote: remote, subject: adm.subject, idle: make(chan struct{}),
		prefix: []byte(syntheticUpgrade),
		frames: bufio.NewReader(io.MultiReader(bytes.NewReader(append([]byte(nil), leftover...)), conn)),
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.live[wc] = struct{}{}
	f.mu.Unlock()
	select {
	case f.conns <- wc:
		handed = true
	case <-f.done:
		f.forget(wc)
	}
}

// syntheticUpgrade is what sipgo's upgrader reads: the real request was
// answered already.
const syntheticUpgrade = "GET / HTTP/1.1\r\nHost: gateway\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

func checkUpgrade(r *http.Request) (key string, ok bool) {
	if r.Method != http.MethodGet || !headerHas(r.Header, "Connection", "upgrade") ||
		!headerHas(r.Header, "Upgrade", "websocket") || r.Header.Get("Sec-WebSocket-Version") != "13" {
		return "", false
	}
	key = r.Header.Get("Sec-WebSocket-Key")
	raw, err := base64.StdEncoding.DecodeString(key)
	return key, err == nil && len(raw) == 16
}

func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

func wantsSIP(r *http.Request) bool { return headerHas(r.Header, "Sec-WebSocket-Protocol", "sip") }

func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

func writeHTTP(w io.Writer, status int, h http.Header) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	_ = h.Write(&b)
	b.WriteString("Content-Length: 0\r\nConnection: close\r\n\r\n")
	_, _ = w.Write(b.Bytes())
}

// Accept hands sipgo the next upgraded connection.
func (f *wsFront) Accept() (net.Conn, error) {
	select {
	case c := <-f.conns:
		return c, nil
	case <-f.done:
		return nil, net.ErrClosed
	}
}

func (f *wsFront) Addr() net.Addr { return f.ln.Addr() }

// live reports whether a WebSocket connection from remote is still open, so
// requests toward a browser are never sent on a connection sipgo would have
// to dial (browsers cannot be dialled).
func (f *wsFront) isLive(remote string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.live {
		if c.remote == remote {
			return true
		}
	}
	return false
}

// subject returns the bearer token subject of the connection from remote.
func (f *wsFront) subject(remote string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.live {
		if c.remote == remote {
			return c.subject, true
		}
	}
	return "", false
}

// Close stops accepting, ends the handshakes in flight, closes every
// connection and waits until no reader is blocked in one of them.
func (f *wsFront) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	close(f.done)
	for c := range f.handshaking {
		_ = c.Close()
	}
	f.mu.Unlock()
	err := f.ln.Close()
	if f.silenced.Load() && errors.Is(err, net.ErrClosed) {
		err = nil // closed already by silence
	}
	<-f.work.close()
	f.mu.Lock()
	conns := make([]*wsConn, 0, len(f.live))
	for c := range f.live {
		conns = append(conns, c)
	}
	f.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
	for _, c := range conns {
		<-c.idle
	}
	return err
}

// silence closes the listener for good (malformed-input weakened); the
// connections already up carry on.
func (f *wsFront) silence(from string, err error) {
	if f.silenced.CompareAndSwap(false, true) {
		f.log.Warn("SIP over WebSocket: a message that does not parse; no new connection taken (malformed-input weakened)",
			"source", from, "error", err)
		_ = f.ln.Close()
	}
}

func (f *wsFront) forget(c *wsConn) {
	f.mu.Lock()
	_, was := f.live[c]
	delete(f.live, c)
	f.mu.Unlock()
	if was && f.onEnd != nil {
		f.onEnd(c.remote)
	}
}

// wsConn is an upgraded connection as sipgo sees it: first the replayed
// upgrade request, then the client's frames; sipgo's 101 is swallowed. It
// counts the reads in flight so Close can wait for them.
type wsConn struct {
	net.Conn
	f       *wsFront
	remote  string
	subject string

	prefix   []byte        // the replayed upgrade request, read alone
	frames   *bufio.Reader // the client's frames
	pending  []byte        // the current message, re-framed for sipgo
	response []byte        // sipgo's 101 as written so far
	answered bool          // sipgo's 101 is complete

	ended sync.Once

	mu     sync.Mutex
	reads  int
	closed bool
	idle   chan struct{} // closed once closed && reads == 0
}

func (c *wsConn) RemoteAddr() net.Addr { return c.Conn.RemoteAddr() }

func (c *wsConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	if len(c.prefix) > 0 {
		// The replayed request alone, so that sipgo's upgrader, whose
		// buffer is thrown away after it, buffers nothing else.
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		c.mu.Unlock()
		return n, nil
	}
	if len(c.pending) > 0 {
		n := copy(b, c.pending)
		c.pending = c.pending[n:]
		c.mu.Unlock()
		return n, nil
	}
	c.reads++
	c.mu.Unlock()

	msg, text, err := readMessage(c.frames)
	if err == nil && c.f.weak && text != nil && !keepalive(text) {
		if _, perr := sip.NewParser().ParseSIP(text); perr != nil {
			c.f.silence(c.remote, perr)
		}
	}
	n := 0
	if err == nil {
		c.pending = msg
		n = copy(b, c.pending)
		c.pending = c.pending[n:]
	}

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

// Write drops sipgo's 101 (already answered by the front) and passes the
// rest.
func (c *wsConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	if !c.answered {
		c.response = append(c.response, b...)
		i := bytes.Index(c.response, []byte("\r\n\r\n"))
		if i < 0 {
			c.mu.Unlock()
			return len(b), nil
		}
		c.answered = true
		rest := c.response[i+4:]
		c.response = nil
		c.mu.Unlock()
		if len(rest) > 0 {
			if _, err := c.Conn.Write(rest); err != nil {
				return 0, err
			}
		}
		return len(b), nil
	}
	c.mu.Unlock()
	return c.Conn.Write(b)
}

// Close closes the connection; closing it again is a no-op (sipgo and the
// front may both close it).
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
	c.ended.Do(func() { c.f.forget(c) })
}

// retryAfter is the header of a 429.
func retryAfter(seconds int) http.Header {
	return http.Header{"Retry-After": {strconv.Itoa(seconds)}}
}
