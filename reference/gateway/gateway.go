// Package gateway is Gauntlet's reference WebRTC edge (an SBC in front of a
// PBX): a registrar for browsers (SIP over WebSocket, RFC 7118) and phones
// (SIP over UDP), and a B2BUA that bridges a browser's WebRTC call (ICE,
// DTLS-SRTP, terminated with pion) to a phone's plain RTP. It stands alone:
// it imports nothing else of Gauntlet, and starts in-process the way
// httptest.NewServer does:
//
//	gw, err := gateway.New(gateway.DefaultConfig())
//	...
//	err = gw.Start(ctx)
//	defer gw.Close()
//	target := gw.WSURL() // ws://127.0.0.1:PORT/
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/webrtc/v4"
)

const (
	// wsHandshakeTimeout bounds a WebSocket client's opening handshake.
	wsHandshakeTimeout = 5 * time.Second
	// closeGrace is how long Close lets BYEs and pending INVITEs finish
	// before it stops the transports under them.
	closeGrace = 5 * time.Second
)

// Gateway is a running (or startable) reference gateway. Use New, then Start.
type Gateway struct {
	cfg   Config
	log   *slog.Logger
	api   *webrtc.API
	dir   directory
	reg   *registrar
	auth  authenticator
	calls *callTable

	ctx    context.Context // the gateway's lifetime; Close cancels it
	cancel context.CancelFunc

	handlers  *routines      // SIP handler invocations in flight
	teardowns *routines      // call teardowns in flight
	serving   sync.WaitGroup // sipgo's accept/read loops

	mu      sync.Mutex
	started bool
	closed  bool

	ua         *sipgo.UserAgent
	udpClient  *sipgo.Client // requests toward phones, from the UDP listen socket
	wsClient   *sipgo.Client // requests toward browsers, down their WebSockets
	udpConn    net.PacketConn
	wsLn       *wsListener
	udpContact sip.ContactHeader
	wsContact  sip.ContactHeader

	closeOnce sync.Once
	closeErr  error
}

// New validates cfg and prepares a gateway; nothing is bound until Start.
func New(cfg Config) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !localIP(cfg.mediaIP()) {
		return nil, invalid("media_ip", "%s is not an address of a local interface", cfg.MediaIP)
	}
	log := cfg.logger()
	api, err := newMediaAPI(cfg, log)
	if err != nil {
		return nil, fmt.Errorf("gateway: media: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Gateway{
		cfg:       cfg,
		log:       log,
		api:       api,
		dir:       directory{webrtc: cfg.WebRTCUsers, sip: cfg.SIPUsers},
		reg:       newRegistrar(cfg.MaxBindings, time.Now),
		auth:      openAuth{},
		calls:     newCallTable(),
		ctx:       ctx,
		cancel:    cancel,
		handlers:  newRoutines(),
		teardowns: newRoutines(),
	}, nil
}

// noDNS is the resolver sipgo gets: the gateway routes by IP literals and
// connections only, so a name (a browser's "<token>.invalid" Via host, a
// phone's FQDN) must never turn into a DNS query leaving the machine.
var noDNS = &net.Resolver{
	PreferGo: true,
	Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errNoDNS
	},
}

var errNoDNS = errors.New("gateway: DNS disabled")

func localIP(ip net.IP) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}

// Start binds the WebSocket and UDP listeners and returns once both are
// listening and sipgo is reading from them. ctx bounds the start only; the
// gateway runs until Close.
func (g *Gateway) Start(ctx context.Context) error {
	ready, err := g.listen(ctx)
	if err != nil {
		return err
	}
	select {
	case <-ready:
		g.log.Info("gateway listening", "ws", g.WSURL(), "udp", g.UDPAddr(), "domain", g.cfg.Domain)
		return nil
	case <-ctx.Done():
		return errors.Join(fmt.Errorf("gateway: start: %w", context.Cause(ctx)), g.Close())
	}
}

// listen binds and starts sipgo's loops; the returned channel is closed
// once the UDP loop reads (see readyConn).
func (g *Gateway) listen(ctx context.Context) (<-chan struct{}, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.closed:
		return nil, ErrClosed
	case g.started:
		return nil, ErrStarted
	}
	var lc net.ListenConfig
	udp, err := lc.ListenPacket(ctx, "udp4", g.cfg.UDPAddr)
	if err != nil {
		return nil, fmt.Errorf("gateway: udp listen %s: %w", g.cfg.UDPAddr, err)
	}
	tcp, err := lc.Listen(ctx, "tcp4", g.cfg.WSAddr)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("gateway: ws listen %s: %w", g.cfg.WSAddr, err), udp.Close())
	}
	if err := g.initSIP(udp.LocalAddr().(*net.UDPAddr), tcp.Addr().(*net.TCPAddr)); err != nil {
		return nil, errors.Join(err, udp.Close(), tcp.Close())
	}
	srv, err := sipgo.NewServer(g.ua, sipgo.WithServerLogger(g.log))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("gateway: sip server: %w", err), g.ua.Close(), udp.Close(), tcp.Close())
	}
	g.routes(srv)
	g.udpConn = udp
	g.wsLn = newWSListener(tcp, wsHandshakeTimeout, g.onWebSocketEnd)
	ready := newReadyConn(udp)
	g.serving.Go(func() {
		if err := srv.ServeUDP(ready); err != nil && !errors.Is(err, net.ErrClosed) {
			g.log.Error("sip udp stopped", "error", err)
		}
	})
	g.serving.Go(func() {
		if err := srv.ServeWS(g.wsLn); err != nil && !errors.Is(err, net.ErrClosed) {
			g.log.Error("sip ws stopped", "error", err)
		}
	})
	g.started = true
	return ready.ready, nil
}

func (g *Gateway) initSIP(udp *net.UDPAddr, ws *net.TCPAddr) error {
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("gauntlet-gateway"),
		sipgo.WithUserAgentDNSResolver(noDNS),
		sipgo.WithUserAgentHostname(g.cfg.Domain),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(g.log)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(g.log)),
	)
	if err != nil {
		return fmt.Errorf("gateway: sip user agent: %w", err)
	}
	udpClient, err := sipgo.NewClient(ua, sipgo.WithClientLogger(g.log),
		sipgo.WithClientHostname(udp.IP.String()), sipgo.WithClientConnectionAddr(udp.String()))
	if err != nil {
		return errors.Join(fmt.Errorf("gateway: sip udp client: %w", err), ua.Close())
	}
	wsClient, err := sipgo.NewClient(ua, sipgo.WithClientLogger(g.log), sipgo.WithClientHostname(ws.IP.String()))
	if err != nil {
		return errors.Join(fmt.Errorf("gateway: sip ws client: %w", err), ua.Close())
	}
	g.ua, g.udpClient, g.wsClient = ua, udpClient, wsClient
	g.udpContact = sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "gateway", Host: udp.IP.String(), Port: udp.Port}}
	wsParams := sip.NewParams()
	wsParams.Add("transport", "ws")
	g.wsContact = sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "gateway", Host: ws.IP.String(), Port: ws.Port, UriParams: wsParams}}
	return nil
}

// WSURL returns the SIP-over-WebSocket URL, e.g. ws://127.0.0.1:PORT/, or ""
// before Start.
func (g *Gateway) WSURL() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.wsLn == nil {
		return ""
	}
	return "ws://" + g.wsLn.Addr().String() + "/"
}

// UDPAddr returns the SIP-over-UDP address, e.g. 127.0.0.1:PORT, or "" before
// Start.
func (g *Gateway) UDPAddr() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.udpConn == nil {
		return ""
	}
	return g.udpConn.LocalAddr().String()
}

// Domain returns the SIP domain the gateway serves.
func (g *Gateway) Domain() string { return g.cfg.Domain }

// Close BYEs every active call, stops listening and returns once every
// goroutine the gateway started (and sipgo's readers on its sockets) has
// exited. It is safe to call more than once.
func (g *Gateway) Close() error {
	g.closeOnce.Do(func() { g.closeErr = g.close() })
	return g.closeErr
}

func (g *Gateway) close() error {
	g.mu.Lock()
	started := g.started
	g.closed = true
	g.mu.Unlock()

	g.cancel()
	handlersIdle := g.handlers.close()
	for _, c := range g.calls.close() {
		c.hangup(sideGateway, "gateway closing")
	}
	teardownsIdle := g.teardowns.close()
	if !started {
		<-handlersIdle
		<-teardownsIdle
		return nil
	}
	// BYEs and CANCELs need the transports: give them a moment, then stop
	// the transports, which also ends any transaction still waiting.
	waitFor(teardownsIdle, closeGrace)
	waitFor(handlersIdle, closeGrace)
	errs := []error{g.wsLn.Close(), g.udpConn.Close()}
	if err := g.ua.Close(); err != nil {
		g.log.Debug("sip transport close", "error", err)
	}
	<-handlersIdle
	<-teardownsIdle
	g.serving.Wait()
	g.log.Info("gateway closed")
	return errors.Join(errs...)
}

func waitFor(ch <-chan struct{}, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

// onWebSocketEnd drops the registrations made over a closed WebSocket and
// hangs up the calls it carried (their browser is gone: no BYE toward it).
func (g *Gateway) onWebSocketEnd(remote string) {
	g.reg.dropSource("WS", remote)
	for _, c := range g.calls.list(func(c *call) bool { return c.browser.source == remote }) {
		c.hangup(sideBrowser, "WebSocket closed")
	}
}
