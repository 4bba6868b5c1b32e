// Package turn is Gauntlet's reference TURN relay (RFC 8656), built on
// pion/turn: UDP, TCP and TLS listeners on IPv4 and IPv6, TURN REST
// time-limited credentials (two secrets accepted during a rotation) and
// static long-term users, a deny-by-default peer policy, a per-user
// allocation quota, a per-allocation bandwidth cap and a lifetime cap. A
// front layer checks every request before pion sees it (see front.go for
// what it adds to pion). Config.MetricsAddr serves its counters in the
// Prometheus text format. It stands alone, and starts in-process the way
// httptest.NewServer does:
//
//	srv, err := turn.New(turn.DefaultConfig())
//	...
//	err = srv.Start(ctx)
//	defer srv.Close()
//	urls := srv.URLs() // turn:127.0.0.1:PORT?transport=udp, ...
package turn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/gauntlet-rtc/gauntlet/reference/internal/pionlog"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	pionturn "github.com/pion/turn/v5"
)

// closeWait bounds how long Close waits for pion's goroutines to end.
const closeWait = 10 * time.Second

// Socket buffers: a UDP listener carries every client's traffic through one
// read loop, so it gets room for bursts (the kernel caps it at rmem_max).
const (
	listenerBuffer = 4 << 20
	relayBuffer    = 1 << 20
)

// growBuffers asks for bigger socket buffers, best effort.
func growBuffers(c net.PacketConn, size int) {
	if b, ok := c.(interface {
		SetReadBuffer(int) error
		SetWriteBuffer(int) error
	}); ok {
		_ = b.SetReadBuffer(size)
		_ = b.SetWriteBuffer(size)
	}
}

// Server is a running (or startable) reference relay. Use New, then Start.
type Server struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	allocs  *allocTable
	front   *front
	track   tracker

	mu       sync.Mutex
	started  bool
	closed   bool
	pion     *pionturn.Server
	udp      []*frontPacketConn
	streams  []*frontListener
	udpAddrs []netip.AddrPort
	tcpAddrs []netip.AddrPort
	tlsAddrs []netip.AddrPort
	certPEM  []byte

	metricsSrv  *http.Server
	metricsAddr string
}

// New validates cfg and prepares a relay; nothing is bound until Start.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.logger()
	m := &metrics{}
	allocs := newAllocTable(cfg.MaxAllocationsPerUser, cfg.weakened(WeakenQuota))
	return &Server{
		cfg:     cfg,
		log:     log,
		metrics: m,
		allocs:  allocs,
		front:   newFront(cfg, allocs, m, log),
	}, nil
}

// Start binds every listener and starts relaying. ctx bounds the start
// only; the relay runs until Close.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return ErrClosed
	case s.started:
		return ErrStarted
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.listen(); err != nil {
		s.closeListeners()
		return err
	}
	gen := &relayGen{metrics: s.metrics, track: &s.track, now: time.Now}
	if s.cfg.RelayIPv4 != "" {
		gen.v4 = net.ParseIP(s.cfg.RelayIPv4)
	}
	if s.cfg.RelayIPv6 != "" {
		gen.v6 = net.ParseIP(s.cfg.RelayIPv6)
	}
	if !s.cfg.weakened(WeakenBandwidthCap) {
		gen.bps = s.cfg.BandwidthBitsPerSecond
	}
	pc := pionturn.ServerConfig{
		LoggerFactory:      pionlog.Factory{Log: s.log},
		Realm:              s.cfg.Realm,
		AuthHandler:        func(ra *pionturn.RequestAttributes) (string, []byte, bool) { return s.front.authKey(ra.SrcAddr) },
		QuotaHandler:       s.quota,
		EventHandler:       s.events(),
		ChannelBindTimeout: ChannelLifetime,
		PermissionTimeout:  PermissionLifetime,
		AllocationLifetime: s.cfg.MaxLifetime,
		// RFC 8656 7.2: without REQUESTED-ADDRESS-FAMILY, relay IPv4 (pion
		// otherwise follows the listener's family).
		StrictAddressFamily: true,
	}
	for _, c := range s.udp {
		pc.PacketConnConfigs = append(pc.PacketConnConfigs, pionturn.PacketConnConfig{
			PacketConn: c, RelayAddressGenerator: gen, PermissionHandler: s.permitted,
		})
	}
	for _, l := range s.streams {
		pc.ListenerConfigs = append(pc.ListenerConfigs, pionturn.ListenerConfig{
			Listener: l, RelayAddressGenerator: gen, PermissionHandler: s.permitted,
		})
	}
	if err := s.serveMetrics(); err != nil {
		s.closeListeners()
		return err
	}
	p, err := pionturn.NewServer(pc)
	if err != nil {
		s.closeListeners()
		return fmt.Errorf("turn: %w", err)
	}
	s.pion, s.started = p, true
	s.log.Info("TURN relay listening", "udp", s.udpAddrs, "tcp", s.tcpAddrs, "tls", s.tlsAddrs)
	return nil
}

// listen binds the configured listeners; the caller holds s.mu.
func (s *Server) listen() error {
	for _, a := range s.cfg.UDP {
		c, err := net.ListenPacket("udp", a)
		if err != nil {
			return fmt.Errorf("turn: udp %s: %w", a, err)
		}
		growBuffers(c, listenerBuffer)
		ap := addrPort(c.LocalAddr())
		s.front.policy.addSelf(ap)
		s.udpAddrs = append(s.udpAddrs, ap)
		s.udp = append(s.udp, &frontPacketConn{PacketConn: c, f: s.front, done: s.track.add()})
	}
	for _, a := range s.cfg.TCP {
		l, err := net.Listen("tcp", a)
		if err != nil {
			return fmt.Errorf("turn: tcp %s: %w", a, err)
		}
		ap := addrPort(l.Addr())
		s.front.policy.addSelf(ap)
		s.tcpAddrs = append(s.tcpAddrs, ap)
		s.streams = append(s.streams, s.frontListener(l))
	}
	if len(s.cfg.TLS) == 0 {
		return nil
	}
	var ips []net.IP
	for _, a := range s.cfg.TLS {
		ips = append(ips, netip.MustParseAddrPort(a).Addr().AsSlice())
	}
	cert, certPEM, err := loadOrMakeCert(s.cfg.TLSCertFile, s.cfg.TLSKeyFile, ips)
	if err != nil {
		return err
	}
	s.certPEM = certPEM
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	for _, a := range s.cfg.TLS {
		l, err := net.Listen("tcp", a)
		if err != nil {
			return fmt.Errorf("turn: tls %s: %w", a, err)
		}
		ap := addrPort(l.Addr())
		s.front.policy.addSelf(ap)
		s.tlsAddrs = append(s.tlsAddrs, ap)
		s.streams = append(s.streams, s.frontListener(tls.NewListener(l, tlsCfg)))
	}
	return nil
}

func (s *Server) frontListener(l net.Listener) *frontListener {
	return &frontListener{Listener: l, f: s.front, track: &s.track, done: s.track.add(), conns: map[*frontConn]struct{}{}}
}

// closeListeners closes what Start opened when it fails half way.
func (s *Server) closeListeners() {
	if s.metricsSrv != nil {
		_ = s.metricsSrv.Close()
	}
	for _, c := range s.udp {
		_ = c.PacketConn.Close()
		c.done()
	}
	for _, l := range s.streams {
		_ = l.Listener.Close()
		l.done()
	}
	s.udp, s.streams = nil, nil
}

func addrPort(a net.Addr) netip.AddrPort {
	ap, _ := netip.ParseAddrPort(a.String())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func (s *Server) quota(userID, _ string, src net.Addr) bool {
	if s.allocs.reserve(src.String(), userID) {
		return true
	}
	s.metrics.quotaRejected.Add(1)
	s.log.Info("allocation quota reached", "user", userID, "src", src.String())
	return false
}

func (s *Server) permitted(_ net.Addr, peer net.IP) bool {
	a, ok := netip.AddrFromSlice(peer)
	if !ok {
		return false
	}
	if len(peer) == net.IPv4len {
		a = a.Unmap()
	}
	return s.front.policy.allowed(netip.AddrPortFrom(a, 0))
}

func (s *Server) events() pionturn.EventHandler {
	return pionturn.EventHandler{
		OnAllocationCreated: func(src, dst net.Addr, _, userID, _ string, relay net.Addr, _ int) {
			s.allocs.created(src.String(), tupleKey(src, dst), userID)
			s.log.Debug("allocation created", "src", src.String(), "user", userID, "relay", relay.String())
		},
		OnAllocationDeleted: func(src, dst net.Addr, _, userID, _ string) {
			s.allocs.deleted(tupleKey(src, dst))
			s.log.Debug("allocation deleted", "src", src.String(), "user", userID)
		},
	}
}

// Close stops the relay: listeners, client connections and allocations,
// and returns once pion's goroutines have ended.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	p := s.pion
	streams := s.streams
	metrics := s.metricsSrv
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	var errs []error
	if metrics != nil {
		if err := metrics.Close(); err != nil {
			errs = append(errs, fmt.Errorf("turn: close metrics: %w", err))
		}
	}
	if err := p.Close(); err != nil {
		errs = append(errs, fmt.Errorf("turn: close: %w", err))
	}
	for _, l := range streams {
		l.closeConns()
	}
	done := make(chan struct{})
	go func() {
		s.track.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(closeWait):
		errs = append(errs, errors.New("turn: close: relay goroutines did not stop"))
	}
	return errors.Join(errs...)
}

// Config returns the configuration the relay runs with.
func (s *Server) Config() Config { return s.cfg }

// Realm is the long-term credential realm.
func (s *Server) Realm() string { return s.cfg.Realm }

// UDPAddrs, TCPAddrs and TLSAddrs are the bound listen addresses, in
// configuration order (empty before Start).
func (s *Server) UDPAddrs() []netip.AddrPort {
	return s.addrs(func() []netip.AddrPort { return s.udpAddrs })
}

// TCPAddrs are the bound TCP listen addresses.
func (s *Server) TCPAddrs() []netip.AddrPort {
	return s.addrs(func() []netip.AddrPort { return s.tcpAddrs })
}

// TLSAddrs are the bound TLS listen addresses.
func (s *Server) TLSAddrs() []netip.AddrPort {
	return s.addrs(func() []netip.AddrPort { return s.tlsAddrs })
}

func (s *Server) addrs(get func() []netip.AddrPort) []netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]netip.AddrPort(nil), get()...)
}

// URLs are the relay's TURN URIs (RFC 7065): turn:...?transport=udp and
// ?transport=tcp for each UDP and TCP listener, turns:...?transport=tcp for
// each TLS listener.
func (s *Server) URLs() []string {
	var out []string
	for _, a := range s.UDPAddrs() {
		out = append(out, "turn:"+hostPort(a)+"?transport=udp")
	}
	for _, a := range s.TCPAddrs() {
		out = append(out, "turn:"+hostPort(a)+"?transport=tcp")
	}
	for _, a := range s.TLSAddrs() {
		out = append(out, "turns:"+hostPort(a)+"?transport=tcp")
	}
	return out
}

func hostPort(a netip.AddrPort) string {
	return net.JoinHostPort(a.Addr().String(), strconv.Itoa(int(a.Port())))
}

// CertificatePEM is the TLS listeners' certificate, for clients to trust
// (nil without TLS listeners or before Start).
func (s *Server) CertificatePEM() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.certPEM...)
}

// Credentials mints TURN REST credentials for user, valid for ttl, with
// the current secret. ok is false when no secret is configured.
func (s *Server) Credentials(user string, ttl time.Duration) (username, password string, ok bool) {
	if len(s.cfg.Secrets) == 0 {
		return "", "", false
	}
	username, password = RESTCredentials(s.cfg.Secrets[0], user, s.cfg.now().Add(ttl))
	return username, password, true
}
