package sipua

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// maxMessage bounds one SIP message read from either transport.
const maxMessage = 64 << 10

// udpBuffer is the per-UA datagram buffer. Datagrams that fill it are
// dropped as possibly truncated (see RFC 3261 §18.1.1 on udp sizes).
const udpBuffer = 16 << 10

// transport carries whole SIP messages. One goroutine calls recv; send may
// be called from any goroutine.
type transport interface {
	// send writes one message. to is the udp destination; the zero value
	// means the server. Stream transports ignore it.
	send(b []byte, to netip.AddrPort) error
	// recv returns the next message and, on udp, its source. The slice is
	// valid until the next call.
	recv() ([]byte, netip.AddrPort, error)
	close() error
	reliable() bool
	viaTransport() string // the Via transport token: WS, WSS, UDP
	localAddr() net.Addr
}

// udpTransport is a bound PacketConn that sends to the server unless told otherwise.
type udpTransport struct {
	pc     net.PacketConn
	server netip.AddrPort
	buf    []byte
}

func (t *udpTransport) send(b []byte, to netip.AddrPort) error {
	if !to.IsValid() {
		to = t.server
	}
	if _, err := t.pc.WriteTo(b, net.UDPAddrFromAddrPort(to)); err != nil {
		return fmt.Errorf("%w: udp write to %s: %w", ErrTransport, to, err)
	}
	return nil
}

func (t *udpTransport) recv() ([]byte, netip.AddrPort, error) {
	for {
		n, addr, err := t.pc.ReadFrom(t.buf)
		if err != nil {
			return nil, netip.AddrPort{}, err
		}
		if n == len(t.buf) {
			continue // possibly truncated; a retransmission will not fit either
		}
		from, err := addrPort(addr)
		if err != nil {
			continue
		}
		return t.buf[:n], from, nil
	}
}

func (t *udpTransport) close() error         { return t.pc.Close() }
func (t *udpTransport) reliable() bool       { return false }
func (t *udpTransport) viaTransport() string { return "UDP" }
func (t *udpTransport) localAddr() net.Addr  { return t.pc.LocalAddr() }

// addrPort converts whatever net.Addr a PacketConn reports.
func addrPort(a net.Addr) (netip.AddrPort, error) {
	if u, ok := a.(*net.UDPAddr); ok {
		ap := u.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// wsTransport is a client WebSocket carrying one SIP message per WebSocket
// message (RFC 7118 §5).
type wsTransport struct {
	conn         net.Conn
	br           *bufio.Reader
	secure       bool
	writeTimeout time.Duration

	wmu sync.Mutex // one frame per Write, whole
	rd  []byte     // reassembly of a fragmented message (reader goroutine only)
}

// dialWS connects and upgrades; it returns the transport and the subprotocol the 101 selected.
func dialWS(ctx context.Context, cfg Config) (*wsTransport, string, error) {
	var dialErr error
	var dialAddr string
	d := ws.Dialer{
		Protocols: []string{"sip"},
		TLSConfig: cfg.TLSConfig,
		NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dialAddr = addr
			c, err := cfg.DialContext(ctx, network, addr)
			dialErr = err
			return c, err
		},
	}
	server, err := withToken(ctx, cfg, &d)
	if err != nil {
		return nil, "", err
	}
	conn, br, hs, err := d.Dial(ctx, server)
	switch {
	case dialErr != nil:
		return nil, "", fmt.Errorf("sipua: connect to %s (%s): %w: %w", dialAddr, cfg.Server, ErrUnreachable, dialErr)
	case errors.Is(err, ws.ErrHandshakeBadSubProtocol):
		return nil, "", fmt.Errorf("sipua: websocket upgrade to %s: %w: %w", cfg.Server, ErrSubprotocol, err)
	case err != nil:
		return nil, "", fmt.Errorf("sipua: websocket upgrade to %s: %w: %w", cfg.Server, ErrHandshake, err)
	case hs.Protocol != "sip":
		conn.Close()
		return nil, "", fmt.Errorf("sipua: websocket upgrade to %s: the 101 has no Sec-WebSocket-Protocol: sip: %w", cfg.Server, ErrSubprotocol)
	}
	if br == nil {
		br = bufio.NewReaderSize(conn, 4096)
	}
	return &wsTransport{
		conn:         conn,
		br:           br,
		secure:       cfg.Transport == TransportWSS,
		writeTimeout: 64 * cfg.Timers.T1,
	}, hs.Protocol, nil
}

func (t *wsTransport) send(b []byte, _ netip.AddrPort) error {
	op := ws.OpText
	if !utf8.Valid(b) {
		op = ws.OpBinary // RFC 7118 §5.2
	}
	if err := t.writeFrame(ws.NewFrame(op, true, b)); err != nil {
		return fmt.Errorf("%w: websocket write: %w", ErrTransport, err)
	}
	return nil
}

// writeFrame masks a copy of f (clients mask every frame, RFC 6455 §5.3) and writes it in one Write.
func (t *wsTransport) writeFrame(f ws.Frame) error {
	b, err := ws.CompileFrame(ws.MaskFrame(f))
	if err != nil {
		return err
	}
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if err := t.conn.SetWriteDeadline(time.Now().Add(t.writeTimeout)); err != nil {
		return err
	}
	_, err = t.conn.Write(b)
	return err
}

func (t *wsTransport) recv() ([]byte, netip.AddrPort, error) {
	for {
		h, err := ws.ReadHeader(t.br)
		if err != nil {
			return nil, netip.AddrPort{}, err
		}
		if h.Rsv != 0 || h.Length > maxMessage || (h.OpCode.IsControl() && (h.Length > 125 || !h.Fin)) {
			return nil, netip.AddrPort{}, fmt.Errorf("%w: websocket protocol error (frame %+v)", ErrTransport, h)
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(t.br, p); err != nil {
			return nil, netip.AddrPort{}, err
		}
		if h.Masked {
			ws.Cipher(p, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpPing:
			if err := t.writeFrame(ws.NewPongFrame(p)); err != nil {
				return nil, netip.AddrPort{}, err
			}
		case ws.OpPong:
		case ws.OpClose:
			_ = t.writeFrame(ws.NewCloseFrame(p)) // echo, RFC 6455 §5.5.1; the conn closes either way
			return nil, netip.AddrPort{}, io.EOF
		case ws.OpText, ws.OpBinary:
			if t.rd != nil {
				return nil, netip.AddrPort{}, fmt.Errorf("%w: websocket: new message inside a fragmented one", ErrTransport)
			}
			if h.Fin {
				return p, netip.AddrPort{}, nil
			}
			t.rd = p
		case ws.OpContinuation:
			if t.rd == nil || len(t.rd)+len(p) > maxMessage {
				return nil, netip.AddrPort{}, fmt.Errorf("%w: websocket: bad continuation frame", ErrTransport)
			}
			t.rd = append(t.rd, p...)
			if h.Fin {
				m := t.rd
				t.rd = nil
				return m, netip.AddrPort{}, nil
			}
		default:
			return nil, netip.AddrPort{}, fmt.Errorf("%w: websocket: unknown opcode %d", ErrTransport, h.OpCode)
		}
	}
}

func (t *wsTransport) close() error {
	// Best effort: say goodbye unless a write is stuck, then drop the connection.
	if t.wmu.TryLock() {
		b, err := ws.CompileFrame(ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
		if err == nil && t.conn.SetWriteDeadline(time.Now().Add(closeWriteTimeout)) == nil {
			_, _ = t.conn.Write(b)
		}
		t.wmu.Unlock()
	}
	return t.conn.Close()
}

// closeWriteTimeout bounds the goodbye frame Close writes.
const closeWriteTimeout = 100 * time.Millisecond

func (t *wsTransport) reliable() bool { return true }

func (t *wsTransport) viaTransport() string {
	if t.secure {
		return "WSS"
	}
	return "WS"
}

func (t *wsTransport) localAddr() net.Addr { return t.conn.LocalAddr() }
