// Package turnload loads a TURN server the way WebRTC traffic does:
// allocations at a paced rate, and relayed audio-shaped flows between
// allocate-and-listen peers, with loss, jitter and round-trip time per
// flow, each attempt reported as a reports.Result. Its Client is a small
// TURN client (RFC 8656) that shows every answer, for the load loops and
// for conformance specs that need to send exact requests.
package turnload

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/stun/v4"
	"github.com/pion/transport/v4"
)

// Transports a Client can reach its server over.
const (
	TransportUDP = "udp"
	TransportTCP = "tcp"
	TransportTLS = "tls"
)

// Errors a Client returns, wrapped with detail.
var (
	ErrClosed   = errors.New("turnload: client closed")
	ErrConfig   = errors.New("turnload: bad client config")
	ErrResponse = errors.New("turnload: unusable response")
)

// StatusError is a STUN error response (RFC 8489 14.8).
type StatusError struct {
	Method stun.Method
	Code   int
	Reason string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("turnload: %s: %d %s", e.Method, e.Code, e.Reason)
}

// Code returns the STUN error code err carries, or 0.
func Code(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// ClientConfig configures a Client.
type ClientConfig struct {
	// Net opens the client's sockets (the agent's socket layer); nil uses
	// the host's network stack.
	Net transport.Net
	// Server is the TURN server's address.
	Server netip.AddrPort
	// Transport is "udp" (default), "tcp" or "tls".
	Transport string
	// TLS configures a "tls" transport (ServerName, RootCAs).
	TLS *tls.Config
	// Username and Password are long-term credentials (static or TURN REST).
	Username string
	Password string
	// OnData, if set, gets every datagram relayed from a peer (Data
	// indications and ChannelData) on the read goroutine; it must be quick
	// and must not keep payload. Without it, data goes to Recv.
	OnData func(from netip.AddrPort, payload []byte, at time.Time)
	Logger *slog.Logger
}

// Data is one datagram relayed from a peer.
type Data struct {
	From    netip.AddrPort
	Payload []byte
	At      time.Time
}

// Client is one TURN client: one transport connection (a 5-tuple) to the
// server, so at most one allocation. Safe for concurrent use.
type Client struct {
	cfg    ClientConfig
	log    *slog.Logger
	wire   wire
	server net.Addr
	data   chan Data
	done   chan struct{}
	wg     sync.WaitGroup

	mu       sync.Mutex
	pending  map[[stun.TransactionIDSize]byte]chan *stun.Message
	realm    string
	nonce    string
	channels map[uint16]netip.AddrPort
	closed   bool

	stray atomic.Int64
}

// wire is the transport under a Client: datagrams or framed stream.
type wire interface {
	send(b []byte) error
	recv(buf []byte) ([]byte, error) // one STUN message or ChannelData frame
	local() net.Addr
	close() error
}

// Dial connects to the server and starts the client's read goroutine.
func Dial(ctx context.Context, cfg ClientConfig) (*Client, error) {
	if !cfg.Server.IsValid() {
		return nil, fmt.Errorf("%w: Server is required", ErrConfig)
	}
	if cfg.Transport == "" {
		cfg.Transport = TransportUDP
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	w, server, err := dialWire(ctx, cfg)
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:      cfg,
		log:      cfg.Logger,
		wire:     w,
		server:   server,
		done:     make(chan struct{}),
		pending:  map[[stun.TransactionIDSize]byte]chan *stun.Message{},
		channels: map[uint16]netip.AddrPort{},
	}
	if cfg.OnData == nil {
		c.data = make(chan Data, 256)
	}
	c.wg.Go(c.readLoop)
	return c, nil
}

func dialWire(ctx context.Context, cfg ClientConfig) (wire, net.Addr, error) {
	srv := net.JoinHostPort(cfg.Server.Addr().String(), fmt.Sprint(cfg.Server.Port()))
	network := "udp4"
	if cfg.Server.Addr().Is6() && !cfg.Server.Addr().Is4In6() {
		network = "udp6"
	}
	switch cfg.Transport {
	case TransportUDP:
		var pc net.PacketConn
		var err error
		if cfg.Net != nil {
			pc, err = cfg.Net.ListenPacket(network, "")
		} else {
			pc, err = net.ListenPacket(network, "")
		}
		if err != nil {
			return nil, nil, fmt.Errorf("turnload: listen: %w", err)
		}
		server := net.UDPAddrFromAddrPort(cfg.Server)
		return &datagramWire{pc: pc, server: server}, server, nil
	case TransportTCP, TransportTLS:
		tcp := "tcp" + network[3:]
		var conn net.Conn
		var err error
		if cfg.Net != nil {
			conn, err = cfg.Net.CreateDialer(&net.Dialer{}).Dial(tcp, srv)
		} else {
			var d net.Dialer
			conn, err = d.DialContext(ctx, tcp, srv)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("turnload: dial %s: %w", srv, err)
		}
		if cfg.Transport == TransportTLS {
			tc := tls.Client(conn, cfg.TLS)
			if err := tc.HandshakeContext(ctx); err != nil {
				_ = conn.Close()
				return nil, nil, fmt.Errorf("turnload: TLS with %s: %w", srv, err)
			}
			conn = tc
		}
		return &streamWire{conn: conn}, net.TCPAddrFromAddrPort(cfg.Server), nil
	}
	return nil, nil, fmt.Errorf("%w: Transport %q: want udp, tcp or tls", ErrConfig, cfg.Transport)
}

// LocalAddr is the client's end of its 5-tuple.
func (c *Client) LocalAddr() net.Addr { return c.wire.local() }

// Close closes the transport and waits for the read goroutine. It does not
// delete the allocation: Refresh with lifetime 0 does.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	close(c.done)
	err := c.wire.close()
	c.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (c *Client) readLoop() {
	buf := make([]byte, 64*1024+20)
	for {
		b, err := c.wire.recv(buf)
		if err != nil {
			c.log.Debug("TURN client read loop ends", "err", err)
			return
		}
		at := time.Now()
		switch {
		case len(b) >= 4 && b[0]&0xC0 == 0x40:
			c.channelData(b, at)
		case stun.IsMessage(b):
			c.stunMessage(b, at)
		default:
			c.stray.Add(1)
		}
	}
}

func (c *Client) channelData(b []byte, at time.Time) {
	n := uint16(b[0])<<8 | uint16(b[1])
	l := int(b[2])<<8 | int(b[3])
	if 4+l > len(b) {
		return
	}
	c.mu.Lock()
	peer, ok := c.channels[n]
	c.mu.Unlock()
	if !ok {
		c.stray.Add(1)
		return
	}
	c.deliver(peer, b[4:4+l], at)
}

func (c *Client) stunMessage(b []byte, at time.Time) {
	m := &stun.Message{Raw: append([]byte(nil), b...)}
	if err := m.Decode(); err != nil {
		c.stray.Add(1)
		return
	}
	switch m.Type.Class {
	case stun.ClassSuccessResponse, stun.ClassErrorResponse:
		c.mu.Lock()
		ch, ok := c.pending[m.TransactionID]
		delete(c.pending, m.TransactionID)
		c.mu.Unlock()
		if !ok {
			c.stray.Add(1)
			return
		}
		ch <- m
	case stun.ClassIndication:
		if m.Type.Method != stun.MethodData {
			return
		}
		var peer stun.XORMappedAddress
		if peer.GetFromAs(m, stun.AttrXORPeerAddress) != nil {
			return
		}
		data, err := m.Get(stun.AttrData)
		if err != nil {
			return
		}
		if from, ok := addrPort(peer.IP, peer.Port); ok {
			c.deliver(from, data, at)
		}
	}
}

func (c *Client) deliver(from netip.AddrPort, payload []byte, at time.Time) {
	if c.cfg.OnData != nil {
		c.cfg.OnData(from, payload, at)
		return
	}
	select {
	case c.data <- Data{From: from, Payload: append([]byte(nil), payload...), At: at}:
	default:
		c.log.Debug("relayed data dropped: Recv is not keeping up")
	}
}

// Stray counts what arrived from the server and matched nothing: answers
// to no pending transaction, unreadable datagrams, ChannelData on a channel
// the client did not bind.
func (c *Client) Stray() int64 { return c.stray.Load() }

// Recv returns the next datagram relayed from a peer (without OnData).
func (c *Client) Recv(ctx context.Context) (Data, error) {
	if c.data == nil {
		return Data{}, fmt.Errorf("%w: Recv with OnData set", ErrConfig)
	}
	select {
	case d := <-c.data:
		return d, nil
	case <-ctx.Done():
		return Data{}, ctx.Err()
	case <-c.done:
		return Data{}, ErrClosed
	}
}

func addrPort(ip net.IP, port int) (netip.AddrPort, bool) {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.AddrPort{}, false
	}
	if len(ip) == net.IPv4len {
		a = a.Unmap()
	}
	return netip.AddrPortFrom(a, uint16(port)), true
}

// Watch registers for the response to transaction id without sending
// anything, for checks that a message went unanswered: send it with
// SendRaw, then a request that is answered, then look at the channel.
// stop unregisters.
func (c *Client) Watch(id [stun.TransactionIDSize]byte) (answers <-chan *stun.Message, stop func()) {
	ch := make(chan *stun.Message, 1)
	c.mu.Lock()
	c.pending[id] = ch
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		if c.pending[id] == ch {
			delete(c.pending, id)
		}
		c.mu.Unlock()
	}
}

// Transact sends m (with its transaction ID) and returns the response with
// the same transaction ID, success or error class alike. Over UDP it
// retransmits (RFC 8489 6.2.1: RTO doubling from 250 ms) until ctx ends.
func (c *Client) Transact(ctx context.Context, m *stun.Message) (*stun.Message, error) {
	ch := make(chan *stun.Message, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	c.pending[m.TransactionID] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, m.TransactionID)
		c.mu.Unlock()
	}()
	_, stream := c.wire.(*streamWire)
	rto := 250 * time.Millisecond
	for {
		if err := c.wire.send(m.Raw); err != nil {
			return nil, fmt.Errorf("turnload: send %s: %w", m.Type, err)
		}
		var retransmit <-chan time.Time
		if !stream { // a reliable transport is not retransmitted on
			t := time.NewTimer(rto)
			defer t.Stop()
			retransmit = t.C
			rto = min(2*rto, 4*time.Second)
		}
		select {
		case r := <-ch:
			return r, nil
		case <-ctx.Done():
			return nil, fmt.Errorf("turnload: %s: no response: %w", m.Type, ctx.Err())
		case <-c.done:
			return nil, ErrClosed
		case <-retransmit:
		}
	}
}
