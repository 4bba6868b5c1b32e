package sipua

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// streamTransport is SIP over TCP or TLS: messages framed by their
// Content-Length on one connection (RFC 3261 §18.3), which also carries
// the requests the server sends back (the contact names this connection's
// local address).
type streamTransport struct {
	conn         net.Conn
	br           *bufio.Reader
	via          string // TCP or TLS
	writeTimeout time.Duration

	wmu sync.Mutex
}

// dialStream connects to the server over TCP, and TLS on top for "tls".
func dialStream(ctx context.Context, cfg Config) (*streamTransport, error) {
	conn, err := cfg.DialContext(ctx, "tcp", cfg.Server)
	if err != nil {
		return nil, fmt.Errorf("sipua: connect to %s (%s): %w: %w", cfg.Server, cfg.Transport, ErrUnreachable, err)
	}
	via := "TCP"
	if cfg.Transport == TransportTLS {
		tc := cfg.TLSConfig
		if tc == nil {
			tc = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		if tc.ServerName == "" {
			tc = tc.Clone()
			tc.ServerName = cfg.serverHost()
		}
		t := tls.Client(conn, tc)
		if err := t.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("sipua: TLS handshake with %s: %w: %w", cfg.Server, ErrHandshake, err)
		}
		conn, via = t, "TLS"
	}
	return &streamTransport{conn: conn, br: bufio.NewReaderSize(conn, 8192), via: via, writeTimeout: 64 * cfg.Timers.T1}, nil
}

func (t *streamTransport) send(b []byte, _ netip.AddrPort) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if err := t.conn.SetWriteDeadline(time.Now().Add(t.writeTimeout)); err != nil {
		return fmt.Errorf("%w: %s write: %w", ErrTransport, t.via, err)
	}
	if _, err := t.conn.Write(b); err != nil {
		return fmt.Errorf("%w: %s write: %w", ErrTransport, t.via, err)
	}
	return nil
}

// recv reads one message: the start line and headers up to the empty
// line, then Content-Length bytes of body (RFC 3261 §18.3: mandatory on
// streams). CRLF keepalives between messages (RFC 5626 §3.5.1) are
// answered with a single CRLF.
func (t *streamTransport) recv() ([]byte, netip.AddrPort, error) {
	var head []byte
	for {
		line, err := t.br.ReadSlice('\n')
		if err != nil {
			return nil, netip.AddrPort{}, err
		}
		if len(head) == 0 && len(bytes.TrimRight(line, "\r\n")) == 0 {
			if bytes.Equal(line, []byte("\r\n")) && t.br.Buffered() >= 2 {
				if next, _ := t.br.Peek(2); bytes.Equal(next, []byte("\r\n")) {
					_, _ = t.br.Discard(2)
					_ = t.send([]byte("\r\n"), netip.AddrPort{}) // pong
				}
			}
			continue
		}
		head = append(head, line...)
		if len(head) > maxMessage {
			return nil, netip.AddrPort{}, fmt.Errorf("%w: %s: header block over %d bytes", ErrTransport, t.via, maxMessage)
		}
		if bytes.HasSuffix(head, []byte("\r\n\r\n")) || bytes.HasSuffix(head, []byte("\n\n")) {
			break
		}
	}
	n, err := contentLength(head)
	if err != nil {
		return nil, netip.AddrPort{}, fmt.Errorf("%w: %s: %w", ErrTransport, t.via, err)
	}
	msg := make([]byte, len(head)+n)
	copy(msg, head)
	if _, err := io.ReadFull(t.br, msg[len(head):]); err != nil {
		return nil, netip.AddrPort{}, err
	}
	return msg, netip.AddrPort{}, nil
}

// contentLength reads the Content-Length (or compact l) header of a
// header block.
func contentLength(head []byte) (int, error) {
	for _, line := range bytes.Split(head, []byte("\n")) {
		name, value, ok := bytes.Cut(bytes.TrimRight(line, "\r"), []byte(":"))
		if !ok {
			continue
		}
		name = bytes.TrimSpace(name)
		if bytes.EqualFold(name, []byte("Content-Length")) || bytes.EqualFold(name, []byte("l")) {
			n, err := strconv.Atoi(string(bytes.TrimSpace(value)))
			if err != nil || n < 0 || n > maxMessage {
				return 0, fmt.Errorf("bad Content-Length %q", bytes.TrimSpace(value))
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("no Content-Length: required on a stream")
}

func (t *streamTransport) close() error         { return t.conn.Close() }
func (t *streamTransport) reliable() bool       { return true }
func (t *streamTransport) viaTransport() string { return t.via }
func (t *streamTransport) localAddr() net.Addr  { return t.conn.LocalAddr() }
