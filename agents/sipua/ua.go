// Package sipua is the SIP signaling of Gauntlet's virtual agents: a user
// agent over SIP over WebSocket (RFC 7118, ws and wss) or SIP over UDP that
// registers with digest authentication, places and answers calls, and keeps
// RFC 3261 dialogs. SDP bodies are opaque bytes; media is someone else's job.
//
// Each UA runs one reader goroutine; retransmissions and timeouts run on
// timers, so an idle dialog costs no goroutine. Close stops everything.
//
// Over udp, Config.Server is the outbound proxy: every request, in a dialog
// or not, is sent there, with Request-URI and Route headers as RFC 3261
// §12.2.1.1 says, and responses go back per Via (RFC 3581 rport).
package sipua

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// UA is one virtual SIP user. Its methods are safe for concurrent use.
type UA struct {
	cfg   Config
	log   *slog.Logger
	tp    transport
	proto string // the subprotocol the 101 selected (ws)

	viaHost string
	viaPort int // 0 on ws, where the host is a random .invalid name
	aor     sip.Uri
	contact *sip.ContactHeader

	incoming   chan *ServerInvite
	readerDone chan struct{}
	heard      atomic.Bool    // some SIP message has arrived
	timers     sync.WaitGroup // timer callbacks running; only added to while !closed, under mu

	mu        sync.Mutex
	closed    bool
	broken    error // the transport failed: every new request fails with it
	clientTxs map[string]*clientTx
	serverTxs map[string]*serverTx
	dialogs   map[string]*Dialog
	regCallID string
	regCSeq   uint32
	realmAlg  map[string]int // strongest digest algorithm rank used per realm
}

// New connects (ws, wss) or binds (udp) and starts the reader. On ws it
// fails with ErrUnreachable when nothing accepts the connection and with
// ErrSubprotocol when the 101 does not select "sip"; both name the address.
func New(ctx context.Context, cfg Config) (*UA, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	u := &UA{
		cfg:        cfg,
		log:        cfg.Logger.With("agent", "sipua", "user", cfg.User),
		incoming:   make(chan *ServerInvite, cfg.IncomingQueue),
		readerDone: make(chan struct{}),
		clientTxs:  make(map[string]*clientTx),
		serverTxs:  make(map[string]*serverTx),
		dialogs:    make(map[string]*Dialog),
		regCallID:  token(),
		realmAlg:   make(map[string]int),
	}
	u.aor = sip.Uri{Scheme: "sip", User: cfg.User, Host: cfg.Domain}
	contact := sip.Uri{Scheme: "sip", User: cfg.User}
	switch cfg.Transport {
	case TransportWS, TransportWSS:
		tp, proto, err := dialWS(ctx, cfg)
		if err != nil {
			return nil, err
		}
		u.tp, u.proto = tp, proto
		u.viaHost = token()[:12] + ".invalid" // RFC 7118 §5.2
		contact.Host = u.viaHost
		contact.UriParams = sip.NewParams()
		contact.UriParams.Add("transport", "ws")
	case TransportTCP, TransportTLS, TransportUDP:
		var tp transport
		var err error
		if cfg.Transport == TransportUDP {
			tp, err = bindUDP(ctx, cfg)
		} else {
			tp, err = dialStream(ctx, cfg)
		}
		if err != nil {
			return nil, err
		}
		u.tp = tp
		la, err := addrPort(tp.localAddr())
		if err != nil {
			tp.close()
			return nil, fmt.Errorf("sipua: %s local address %s: %w", cfg.Transport, tp.localAddr(), err)
		}
		// The contact is where this socket is: requests toward it come back
		// on it (on the connection itself for tcp and tls).
		u.viaHost, u.viaPort = la.Addr().String(), int(la.Port())
		contact.Host, contact.Port = u.viaHost, u.viaPort
		if cfg.Transport != TransportUDP {
			contact.UriParams = sip.NewParams()
			contact.UriParams.Add("transport", cfg.Transport)
		}
	}
	u.contact = &sip.ContactHeader{Address: contact}
	go u.readLoop()
	return u, nil
}

func bindUDP(ctx context.Context, cfg Config) (*udpTransport, error) {
	host, port, _ := splitHostPort(cfg.Server)
	ip, err := netip.ParseAddr(host)
	if err != nil {
		ips, lerr := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if lerr != nil || len(ips) == 0 {
			return nil, fmt.Errorf("sipua: resolve %s: %w: %w", cfg.Server, ErrUnreachable, lerr)
		}
		ip = ips[0]
	}
	ip = ip.Unmap()
	local := cfg.LocalIP
	if !local.IsValid() {
		switch {
		case ip.IsLoopback() && ip.Is4():
			local = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		case ip.IsLoopback():
			local = netip.IPv6Loopback()
		default:
			return nil, fmt.Errorf("%w: LocalIP is required for udp toward %s", ErrConfig, cfg.Server)
		}
	}
	bind := netip.AddrPortFrom(local, 0).String()
	pc, err := cfg.ListenPacket("udp", bind)
	if err != nil {
		return nil, fmt.Errorf("sipua: bind udp %s: %w", bind, err)
	}
	return &udpTransport{pc: pc, server: netip.AddrPortFrom(ip, uint16(port)), buf: make([]byte, udpBuffer)}, nil
}

// Subprotocol is the WebSocket subprotocol the 101 selected ("sip"); empty on udp.
func (u *UA) Subprotocol() string { return u.proto }

// LocalAddr is the local address of the transport.
func (u *UA) LocalAddr() net.Addr { return u.tp.localAddr() }

// Incoming delivers inbound INVITEs. When the buffer is full further INVITEs
// are answered 486. It is closed by Close.
func (u *UA) Incoming() <-chan *ServerInvite { return u.incoming }

// Close closes the transport, stops every goroutine and timer, fails pending
// requests and ends every dialog with ErrClosed. It sends nothing (no BYE,
// no un-REGISTER): do that first if the far end should know.
func (u *UA) Close() error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	u.shutdownLocked(ErrClosed)
	u.mu.Unlock()
	err := u.tp.close()
	<-u.readerDone
	u.timers.Wait()
	close(u.incoming)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("sipua: close: %w", err)
	}
	return nil
}

// shutdownLocked fails every transaction and ends every dialog with err.
func (u *UA) shutdownLocked(err error) {
	for _, tx := range u.clientTxs {
		u.finishLocked(tx, nil, err)
		tx.stopTimers()
	}
	clear(u.clientTxs)
	for _, tx := range u.serverTxs {
		tx.stopTimers()
		if tx.inv != nil {
			tx.inv.cancelLocked()
		}
	}
	clear(u.serverTxs)
	for _, d := range u.dialogs {
		d.endLocked(err)
	}
	clear(u.dialogs)
}

// after runs f once d has passed, unless the UA is closed by then; Close
// waits for callbacks already running.
func (u *UA) after(d time.Duration, f func()) *time.Timer {
	return time.AfterFunc(d, func() {
		u.mu.Lock()
		if u.closed {
			u.mu.Unlock()
			return
		}
		u.timers.Add(1)
		u.mu.Unlock()
		defer u.timers.Done()
		f()
	})
}

// send writes one message; to is the udp destination (zero: the server).
func (u *UA) send(b []byte, to netip.AddrPort) error {
	u.mu.Lock()
	closed, broken := u.closed, u.broken
	u.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if broken != nil {
		return broken
	}
	return u.tp.send(b, to)
}

func (u *UA) readLoop() {
	defer close(u.readerDone)
	for {
		b, from, err := u.tp.recv()
		if err != nil {
			u.mu.Lock()
			if !u.closed {
				u.log.Warn("transport down", "err", err)
				u.broken = fmt.Errorf("%w: %w", ErrTransport, err)
				u.shutdownLocked(u.broken)
			}
			u.mu.Unlock()
			return
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue // CRLF keep-alive (RFC 5626 §4.4.1)
		}
		msg, err := sip.ParseMessage(b)
		if err != nil {
			u.log.Debug("unparsable message dropped", "err", err, "from", from)
			continue
		}
		u.heard.Store(true)
		switch m := msg.(type) {
		case *sip.Request:
			u.onRequest(m, from)
		case *sip.Response:
			u.onResponse(m)
		}
	}
}
