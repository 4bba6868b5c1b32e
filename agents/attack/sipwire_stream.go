package attack

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/gauntlet-rtc/gauntlet/agents/socket"
)

// SIP transports as the attacks name them.
const (
	transportUDP = "udp"
	transportTCP = "tcp"
	transportTLS = "tls"
	transportWS  = "ws"
	transportWSS = "wss"
)

// maxStreamMessage bounds one SIP message read from a stream (sipgo's
// ParseMaxMessageLength).
const maxStreamMessage = 65535

// errStreamClosed is wrapped when the target closed the connection (FIN,
// RST or a WebSocket close).
var errStreamClosed = errors.New("the target closed the connection")

// errUnframed is wrapped when the target sent bytes that are not a SIP
// message framed as RFC 3261 18.3 asks.
var errUnframed = errors.New("unframed bytes from the target")

// streamTarget is one stream transport of the target: TCP or TLS at
// host:port, or a ws:// or wss:// URL.
type streamTarget struct {
	transport string
	addr      string
	insecure  bool // accept a certificate that does not verify (the target file says so)
	// token, for a WebSocket upgrade that wants a bearer token (RFC 6750).
	token   func(ctx context.Context) (string, error)
	inQuery bool
}

// streamTargets lists the stream transports the target file names, in the
// order the torture attack runs them.
func (s SIPEnv) streamTargets() []streamTarget {
	var out []streamTarget
	if s.TCP != "" {
		out = append(out, streamTarget{transport: transportTCP, addr: s.TCP})
	}
	if s.TLS != "" {
		out = append(out, streamTarget{transport: transportTLS, addr: s.TLS, insecure: s.InsecureTLS})
	}
	if s.WS != "" {
		t := transportWS
		if strings.HasPrefix(strings.ToLower(s.WS), "wss:") {
			t = transportWSS
		}
		out = append(out, streamTarget{transport: t, addr: s.WS, insecure: s.InsecureTLS, token: s.Token, inQuery: s.TokenInQuery})
	}
	return out
}

// websocket reports whether SIP goes one message per WebSocket message.
func (t streamTarget) websocket() bool {
	return t.transport == transportWS || t.transport == transportWSS
}

// via is the transport as a Via header names it.
func (t streamTarget) via() string { return strings.ToUpper(t.transport) }

// tlsConfig is what the SIP agents use: TLS 1.2 or later, the target's
// host name checked, unless (and only when) the target file says
// insecure_tls.
func (t streamTarget) tlsConfig(host string) *tls.Config {
	return &tls.Config{ServerName: host, InsecureSkipVerify: t.insecure, MinVersion: tls.VersionTLS12}
}

// sipStream is one connection to the target's SIP side over TCP, TLS
// (messages framed by Content-Length, RFC 3261 18.3) or a WebSocket (one
// SIP message per WebSocket message, subprotocol sip, RFC 7118 5), from a
// source address of the socket layer it was dialled on. The capture gets
// the SIP bytes as written and read (inside TLS and WebSocket framing) as
// TCP segments.
type sipStream struct {
	target streamTarget
	conn   net.Conn
	br     *bufio.Reader
	local  netip.AddrPort
	remote netip.AddrPort
	rec    *streamRecord
}

// dialSIPStream connects to t from n, with the TLS handshake or WebSocket
// upgrade done, within timeout.
func dialSIPStream(ctx context.Context, n *socket.Net, t streamTarget, capture *Capture, timeout time.Duration) (*sipStream, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var conn net.Conn
	var br *bufio.Reader
	if t.websocket() {
		u, err := url.Parse(t.addr)
		if err != nil {
			return nil, fmt.Errorf("target SIP WebSocket URL %q: %w", t.addr, err)
		}
		d := ws.Dialer{
			Protocols: []string{"sip"},
			TLSConfig: t.tlsConfig(u.Hostname()),
			NetDial:   n.DialContext,
		}
		dialURL, err := t.withToken(ctx, &d, u)
		if err != nil {
			return nil, err
		}
		c, r, hs, err := d.Dial(ctx, dialURL)
		if err != nil {
			return nil, fmt.Errorf("%s upgrade at %s: %w", t.transport, t.addr, err)
		}
		if hs.Protocol != "sip" {
			_ = c.Close()
			return nil, fmt.Errorf("%s upgrade at %s: the 101 did not select the sip subprotocol (RFC 7118 4)", t.transport, t.addr)
		}
		conn, br = c, r
	} else {
		c, err := n.DialContext(ctx, "tcp", t.addr)
		if err != nil {
			return nil, fmt.Errorf("connect to %s over %s: %w", t.addr, t.transport, err)
		}
		conn = c
		if t.transport == transportTLS {
			host, _, _ := net.SplitHostPort(t.addr)
			tc := tls.Client(c, t.tlsConfig(host))
			if err := tc.HandshakeContext(ctx); err != nil {
				_ = c.Close()
				return nil, fmt.Errorf("TLS handshake with %s: %w", t.addr, err)
			}
			conn = tc
		}
	}
	if br == nil {
		br = bufio.NewReaderSize(conn, 4096)
	}
	s := &sipStream{target: t, conn: conn, br: br, local: addrPort(conn.LocalAddr()), remote: addrPort(conn.RemoteAddr())}
	s.rec = capture.stream(s.local, s.remote)
	return s, nil
}

func (s *sipStream) Close() error { return s.conn.Close() }

// request builds an out-of-dialog request from this connection's address.
func (s *sipStream) request(method sip.RequestMethod, domain string) *sip.Request {
	u := func(user string) sip.Uri { return sip.Uri{Scheme: "sip", User: user, Host: domain} }
	return newRequest(method, u(""), s.target.via(), s.local.Addr().String(), int(s.local.Port()), u("gauntlet"), u("gauntlet"))
}

// write sends b: as it is on TCP and TLS, as one WebSocket message (a text
// frame) on a WebSocket. A write the target refused by closing the
// connection wraps errStreamClosed.
func (s *sipStream) write(b []byte, until time.Time) error {
	if err := s.conn.SetWriteDeadline(until); err != nil {
		return err
	}
	var err error
	if s.target.websocket() {
		err = wsutil.WriteClientMessage(s.conn, ws.OpText, b)
	} else {
		_, err = s.conn.Write(b)
	}
	if err != nil {
		return closedOr(err)
	}
	s.rec.out(b)
	return nil
}

// read returns the next SIP response before until, or an error wrapping
// errStreamClosed when the target closed the connection, os.ErrDeadlineExceeded
// when nothing came, or errUnframed for bytes that are no framed message.
// A message that does not parse is read by its status line; a request
// from the target is returned as nil, nil.
func (s *sipStream) read(until time.Time) (*sip.Response, error) {
	if err := s.conn.SetReadDeadline(until); err != nil {
		return nil, err
	}
	var msg []byte
	var err error
	if s.target.websocket() {
		msg, _, err = wsutil.ReadServerData(struct {
			io.Reader
			io.Writer
		}{s.br, s.conn})
	} else {
		msg, err = readFramed(s.br)
	}
	if err != nil {
		return nil, closedOr(err)
	}
	s.rec.in(msg)
	parsed, perr := sip.ParseMessage(msg)
	if perr != nil {
		if res := statusLine(msg); res != nil {
			return res, nil
		}
		return nil, fmt.Errorf("%w: %q", errUnframed, truncate(msg, 60))
	}
	res, _ := parsed.(*sip.Response)
	return res, nil
}

// readFramed reads one message from a SIP stream: CRLFs before the start
// line skipped (RFC 3261 7.5), the header block to its empty line, then
// Content-Length bytes of body (RFC 3261 18.3), at most maxStreamMessage
// bytes in all.
func readFramed(br *bufio.Reader) ([]byte, error) {
	var head []byte
	for {
		line, err := br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
		if len(head) == 0 && len(bytes.Trim(line, "\r\n")) == 0 && !errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		head = append(head, line...)
		if len(head) > maxStreamMessage {
			return nil, fmt.Errorf("%w: a header block over %d bytes", errUnframed, maxStreamMessage)
		}
		if bytes.HasSuffix(head, []byte("\r\n\r\n")) {
			break
		}
	}
	n, ok := headContentLength(head)
	if !ok || len(head)+n > maxStreamMessage {
		return nil, fmt.Errorf("%w: no usable Content-Length in %q", errUnframed, truncate(head, 60))
	}
	msg := make([]byte, len(head)+n)
	copy(msg, head)
	if _, err := io.ReadFull(br, msg[len(head):]); err != nil {
		return nil, err
	}
	return msg, nil
}

// headContentLength is the one Content-Length (or l) of a header block.
func headContentLength(head []byte) (int, bool) {
	v := headerValue(head, "content-length", "l")
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 0
}

// closedOr wraps errStreamClosed around an error that means the target
// closed the connection; other errors are returned as they are.
func closedOr(err error) error {
	var closed wsutil.ClosedError
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return err
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.As(err, &closed):
		return fmt.Errorf("%w (%v)", errStreamClosed, err)
	}
	return err
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// withToken puts the target's bearer token on the upgrade d makes, in a
// header or the URL's query, and returns the URL to dial.
func (t streamTarget) withToken(ctx context.Context, d *ws.Dialer, u *url.URL) (string, error) {
	if t.token == nil {
		return t.addr, nil
	}
	tok, err := t.token(ctx)
	if err != nil {
		return "", fmt.Errorf("bearer token for %s: %w", t.addr, err)
	}
	if !t.inQuery {
		d.Header = ws.HandshakeHeaderHTTP(http.Header{"Authorization": {"Bearer " + tok}})
		return t.addr, nil
	}
	q := u.Query()
	q.Set("access_token", tok)
	withTok := *u
	withTok.RawQuery = q.Encode()
	return withTok.String(), nil
}
