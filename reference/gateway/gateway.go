// Package gateway is Gauntlet's reference WebRTC edge (an SBC in front of a
// PBX): a registrar for browsers (SIP over WebSocket and secure WebSocket,
// RFC 7118) and phones (SIP over UDP, TCP and TLS), with digest
// authentication, and a B2BUA that bridges calls in every direction:
// browser to phone (WebRTC media, ICE and DTLS-SRTP terminated with pion,
// to plain RTP), phone to browsers (forked to every registered contact,
// first answer wins), browser to browser and phone to phone. It holds,
// transfers (REFER), relays DTMF (RFC 4733) and restarts ICE, rate-limits
// what floods (503 with Retry-After; HTTP 429 on WebSocket upgrades),
// serves Prometheus metrics and TURN REST credentials, and drains on
// shutdown. Weaken switches and faults break it on purpose for attacks.
//
// It stands alone: it imports nothing else of Gauntlet, and starts
// in-process the way httptest.NewServer does:
//
//	gw, err := gateway.New(gateway.DefaultConfig())
//	...
//	err = gw.Start(ctx)
//	defer gw.Close()
//	target := gw.WSURL() // ws://127.0.0.1:PORT/
package gateway

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/webrtc/v4"
)

const (
	// wsHandshakeTimeout bounds a WebSocket client's TLS and HTTP handshake.
	wsHandshakeTimeout = 5 * time.Second
	// closeGrace is how long Close lets BYEs and pending INVITEs finish
	// before it stops the transports under them.
	closeGrace = 5 * time.Second
)

// Gateway is a running (or startable) reference gateway. Use New, then Start.
type Gateway struct {
	cfg       Config
	log       *slog.Logger
	now       func() time.Time
	api       *webrtc.API
	dir       directory
	reg       *registrar
	auth      authenticator
	digest    *digestAuth // nil when weakened
	passwords map[string]string
	limits    *limits
	unlimited bool
	counts    *callCounts
	faults    *faultPlan
	tokens    *tokenVerifier
	metrics   *metrics
	tlsConfig *tls.Config
	rootCAs   *x509.CertPool
	calls     *callTable
	merged    merges

	ctx    context.Context // the gateway's lifetime; Close cancels it
	cancel context.CancelFunc

	handlers  *routines      // SIP handler invocations in flight
	teardowns *routines      // call teardowns in flight
	serving   sync.WaitGroup // sipgo's accept/read loops, the HTTP server, keepalives

	mu       sync.Mutex
	started  bool
	closed   bool
	draining bool

	ua        *sipgo.UserAgent
	listeners []*sipListener
	httpLn    net.Listener
	httpSrv   *http.Server

	closeOnce sync.Once
	closeErr  error
}

// New validates cfg and prepares a gateway; nothing is bound until Start.
// Users whose range has no password get a random one (see Password).
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
	g := &Gateway{
		cfg:       cfg,
		log:       log,
		now:       time.Now,
		api:       api,
		dir:       directory{webrtc: cfg.WebRTCUsers, sip: cfg.SIPUsers},
		passwords: map[string]string{KindWebRTC: cfg.WebRTCUsers.Password, KindSIP: cfg.SIPUsers.Password},
		limits:    newLimits(cfg.RateLimit),
		unlimited: cfg.weakened(WeakenRateLimit),
		counts:    newCallCounts(),
		faults:    &faultPlan{faults: cfg.Faults},
		calls:     newCallTable(),
		ctx:       ctx,
		cancel:    cancel,
		handlers:  newRoutines(),
		teardowns: newRoutines(),
	}
	for kind, pw := range g.passwords {
		if pw == "" {
			g.passwords[kind] = strings.ToLower(rand.Text())
		}
	}
	g.reg = newRegistrar(cfg.MaxBindings, g.now)
	g.metrics = newMetrics(g.reg.count, g.calls.count)
	if cfg.weakened(WeakenDigest) {
		g.auth = openAuth{}
	} else {
		g.digest = newDigestAuth(g.realm(), cfg.Auth.Algorithms, cfg.Auth.NonceTTL, g.now, g.password)
		g.digest.onRefuse = func(err error) {
			if errors.Is(err, errLockedOut) {
				g.metrics.limited("AUTH", "digest lockout")
				g.log.Info("digest refused", "reason", err)
				return
			}
			g.log.Debug("digest refused", "reason", err)
		}
		if !cfg.weakened(WeakenAuthLockout) {
			g.digest.lock = newLockout(cfg.Auth.Lockout, cfg.RateLimit.MaxTracked)
		}
		g.auth = g.digest
	}
	if g.tokens, err = newTokenVerifier(cfg.Auth.JWT, g.now); err != nil {
		cancel()
		return nil, err
	}
	if cfg.WSSAddr != "" || cfg.TLSAddr != "" || hasSecure(cfg.Listen) {
		if g.tlsConfig, g.rootCAs, err = serverTLS(cfg); err != nil {
			cancel()
			return nil, err
		}
	}
	return g, nil
}

func hasSecure(ls []Listener) bool {
	for _, l := range ls {
		if l.Transport == "tls" || l.Transport == "wss" {
			return true
		}
	}
	return false
}

func (g *Gateway) realm() string {
	if g.cfg.Auth.Realm != "" {
		return g.cfg.Auth.Realm
	}
	return g.cfg.Domain
}

// password is the digest password of a known user.
func (g *Gateway) password(user string) (string, bool) {
	kind, err := g.dir.kind(user)
	if err != nil {
		return "", false
	}
	return g.passwords[kind], true
}

// Password returns the password of the users of kind (KindWebRTC or
// KindSIP): the configured one, or the random one New chose.
func (g *Gateway) Password(kind string) string { return g.passwords[kind] }

// RootCAs returns a pool trusting the self-signed certificate of the wss
// and tls listeners; nil when the certificate is the user's own or there
// is no TLS listener.
func (g *Gateway) RootCAs() *x509.CertPool { return g.rootCAs }

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

// Start binds every listener and returns once all listen and sipgo is
// reading from them. ctx bounds the start only; the gateway runs until Close.
func (g *Gateway) Start(ctx context.Context) error {
	ready, err := g.listen(ctx)
	if err != nil {
		return errors.Join(err, g.Close())
	}
	for _, r := range ready {
		select {
		case <-r:
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("gateway: start: %w", context.Cause(ctx)), g.Close())
		}
	}
	g.log.Info("gateway listening", "ws", g.WSURL(), "wss", g.WSSURL(), "udp", g.UDPAddr(), "tcp", g.TCPAddr(),
		"tls", g.TLSAddr(), "http", g.HTTPURL(), "domain", g.cfg.Domain, "weaken", g.cfg.Weaken, "faults", len(g.cfg.Faults))
	return nil
}

// listen binds and starts sipgo's loops.
func (g *Gateway) listen(ctx context.Context) ([]<-chan struct{}, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.closed:
		return nil, ErrClosed
	case g.started:
		return nil, ErrStarted
	}
	g.started = true
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("gauntlet-gateway"),
		sipgo.WithUserAgentDNSResolver(noDNS),
		sipgo.WithUserAgentHostname(g.cfg.Domain),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(g.log)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(g.log),
			sip.WithTransactionLayerUnhandledResponseHandler(func(r *sip.Response) {
				g.log.Debug("response matching no transaction dropped", "status", r.StatusCode, "source", r.Source())
			})),
	)
	if err != nil {
		return nil, fmt.Errorf("gateway: sip user agent: %w", err)
	}
	g.ua = ua
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(g.log))
	if err != nil {
		return nil, fmt.Errorf("gateway: sip server: %w", err)
	}
	g.routes(srv)
	ready, err := g.bind(ctx, srv, g.tlsConfig)
	if err != nil {
		return nil, err
	}
	if g.cfg.HTTPAddr != "" {
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", g.cfg.HTTPAddr)
		if err != nil {
			return nil, fmt.Errorf("gateway: http listen %s: %w", g.cfg.HTTPAddr, err)
		}
		g.httpLn = ln
		g.httpSrv = &http.Server{Handler: g.httpHandler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(g.log.Handler(), slog.LevelDebug)}
		g.serving.Go(func() {
			if err := g.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				g.log.Error("http stopped", "error", err)
			}
		})
	}
	if g.cfg.KeepaliveInterval > 0 {
		g.serving.Go(g.keepalive)
	}
	return ready, nil
}

func (g *Gateway) addr(transport string, v4 bool) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, l := range g.listeners {
		if l.transport == transport && l.bound.Addr().Is4() == v4 {
			return l.bound.String()
		}
	}
	return ""
}

// Addr returns the bound address of a listener (transport udp, tcp, tls,
// ws or wss; IPv4 or IPv6), or "" when there is none.
func (g *Gateway) Addr(transport string, ipv6 bool) string { return g.addr(transport, !ipv6) }

// WSURL returns the SIP-over-WebSocket URL, e.g. ws://127.0.0.1:PORT/, or ""
// before Start or without a ws listener.
func (g *Gateway) WSURL() string {
	if a := g.addr("ws", true); a != "" {
		return "ws://" + a + "/"
	}
	return ""
}

// WSSURL returns the secure WebSocket URL, or "".
func (g *Gateway) WSSURL() string {
	if a := g.addr("wss", true); a != "" {
		return "wss://" + a + "/"
	}
	return ""
}

// UDPAddr returns the SIP-over-UDP address, e.g. 127.0.0.1:PORT, or "".
func (g *Gateway) UDPAddr() string { return g.addr("udp", true) }

// TCPAddr returns the SIP-over-TCP address, or "".
func (g *Gateway) TCPAddr() string { return g.addr("tcp", true) }

// TLSAddr returns the SIP-over-TLS address, or "".
func (g *Gateway) TLSAddr() string { return g.addr("tls", true) }

// HTTPURL returns the base URL of /metrics and /turn-credentials, or "".
func (g *Gateway) HTTPURL() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.httpLn == nil {
		return ""
	}
	return "http://" + g.httpLn.Addr().String()
}

// Domain returns the SIP domain the gateway serves.
func (g *Gateway) Domain() string { return g.cfg.Domain }

// ActiveCalls returns how many calls are being set up or are connected.
func (g *Gateway) ActiveCalls() int { return g.calls.count() }

// Close BYEs every active call, stops listening and returns once every
// goroutine the gateway started (and sipgo's readers on its sockets) has
// exited. It is safe to call more than once. See Drain for a gentler stop.
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
		c.hangup(nil, "gateway closing")
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
	var errs []error
	for _, l := range g.listeners {
		if err := l.close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if g.httpSrv != nil {
		errs = append(errs, g.httpSrv.Close())
	}
	if g.ua != nil {
		if err := g.ua.Close(); err != nil {
			g.log.Debug("sip transport close", "error", err)
		}
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
	g.reg.dropWebSocket(remote)
	for _, c := range g.calls.list(func(l *leg) bool {
		d := l.dialog()
		return d != nil && d.source == remote
	}) {
		for _, l := range []*leg{c.leg(sideCaller), c.leg(sideCallee)} {
			if l == nil {
				continue
			}
			if d := l.dialog(); d != nil && d.source == remote {
				l.mu.Lock()
				l.up = false
				l.mu.Unlock()
				c.hangup(l, "WebSocket closed")
			}
		}
	}
}

// admitUpgrade decides a WebSocket upgrade: 429 beyond the per-source
// rate, 401 without a valid bearer token when tokens are required.
func (g *Gateway) admitUpgrade(r *http.Request, remote string) admission {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	if g.isClosing() {
		g.metrics.upgrade(http.StatusServiceUnavailable)
		return admission{status: http.StatusServiceUnavailable, header: retryAfter(g.cfg.RateLimit.retryAfterSeconds())}
	}
	if !g.allow(g.limits.wsSource, host) {
		g.metrics.upgrade(http.StatusTooManyRequests)
		g.metrics.limited("WS", "upgrade rate limit per source")
		return admission{status: http.StatusTooManyRequests, header: retryAfter(g.cfg.RateLimit.retryAfterSeconds())}
	}
	var subject string
	if g.tokens != nil {
		tok := bearer(r)
		sub, err := g.tokens.verify(tok)
		if tok == "" || err != nil {
			g.metrics.upgrade(http.StatusUnauthorized)
			g.log.Info("WebSocket upgrade refused", "remote", remote, "error", err)
			return admission{status: http.StatusUnauthorized, header: http.Header{"WWW-Authenticate": {`Bearer realm="` + g.realm() + `"`}}}
		}
		subject = sub
	}
	g.metrics.upgrade(http.StatusSwitchingProtocols)
	return admission{subject: subject}
}

func (g *Gateway) isClosing() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closed
}

func (g *Gateway) isDraining() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.draining || g.closed
}

// Drain stops taking new calls (503 with Retry-After), lets the calls in
// progress run until they end or until DrainTimeout (or ctx) is over, then
// closes the gateway, which BYEs the rest.
func (g *Gateway) Drain(ctx context.Context) error {
	g.mu.Lock()
	g.draining = true
	g.mu.Unlock()
	g.log.Info("gateway draining", "calls", g.calls.count(), "timeout", g.cfg.DrainTimeout)
	dctx, cancel := context.WithTimeout(ctx, g.cfg.DrainTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for g.calls.count() > 0 {
		select {
		case <-dctx.Done():
			g.log.Info("drain deadline: ending the remaining calls", "calls", g.calls.count())
			return g.Close()
		case <-tick.C:
		}
	}
	return g.Close()
}
