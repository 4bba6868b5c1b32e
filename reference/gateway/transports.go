package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// sipListener is one bound SIP transport, with the client that sends the
// gateway's requests from it (UDP: from its very socket).
type sipListener struct {
	transport string // udp, tcp, tls, ws or wss
	bound     netip.AddrPort
	client    *sipgo.Client
	udp       net.PacketConn
	stream    net.Listener // tcp and tls
	front     *wsFront     // ws and wss
}

// options are the request options of the listener's client: a Via, and on
// UDP the listen socket as the source.
func (l *sipListener) options() []sipgo.ClientRequestOption {
	opts := []sipgo.ClientRequestOption{sipgo.ClientRequestAddVia}
	if l.transport == "udp" {
		ip, port := l.bound.Addr().AsSlice(), int(l.bound.Port())
		opts = append(opts, func(_ *sipgo.Client, r *sip.Request) error {
			r.Laddr = sip.Addr{IP: ip, Port: port}
			return nil
		})
	}
	return opts
}

func (l *sipListener) close() error {
	switch {
	case l.udp != nil:
		return l.udp.Close()
	case l.stream != nil:
		return l.stream.Close()
	case l.front != nil:
		return l.front.Close()
	}
	return nil
}

func network(base string, ap netip.AddrPort) string {
	if ap.Addr().Is4() {
		return base + "4"
	}
	return base + "6"
}

// bind opens every configured listener and starts sipgo on it; the
// returned channels are closed once the UDP loops read.
func (g *Gateway) bind(ctx context.Context, srv *sipgo.Server, tlsConfig *tls.Config) ([]<-chan struct{}, error) {
	var lc net.ListenConfig
	var ready []<-chan struct{}
	for _, want := range g.cfg.listenAddrs() {
		ap := netip.MustParseAddrPort(want.Addr)
		l := &sipListener{transport: want.Transport}
		var err error
		switch want.Transport {
		case "udp":
			l.udp, err = lc.ListenPacket(ctx, network("udp", ap), want.Addr)
			if err == nil {
				l.bound = l.udp.LocalAddr().(*net.UDPAddr).AddrPort()
			}
		default:
			var tcp net.Listener
			tcp, err = lc.Listen(ctx, network("tcp", ap), want.Addr)
			if err != nil {
				break
			}
			l.bound = tcp.Addr().(*net.TCPAddr).AddrPort()
			switch want.Transport {
			case "tcp":
				l.stream = newMalformedListener(tcp, g.cfg.weakened(WeakenMalformedInput), g.log)
			case "tls":
				l.stream = newMalformedListener(tls.NewListener(tcp, tlsConfig), g.cfg.weakened(WeakenMalformedInput), g.log)
			case "ws":
				l.front = newWSFront(tcp, nil, wsHandshakeTimeout, g.log, g.admitUpgrade, g.onWebSocketEnd, g.cfg.weakened(WeakenMalformedInput))
			case "wss":
				l.front = newWSFront(tcp, tlsConfig, wsHandshakeTimeout, g.log, g.admitUpgrade, g.onWebSocketEnd, g.cfg.weakened(WeakenMalformedInput))
			}
		}
		if err != nil {
			return nil, fmt.Errorf("gateway: %s listen %s: %w", want.Transport, want.Addr, err)
		}
		l.bound = netip.AddrPortFrom(l.bound.Addr().Unmap(), l.bound.Port())
		g.listeners = append(g.listeners, l)
		if err := g.newClient(l); err != nil {
			return nil, err
		}
	}
	// Serve only once the list is complete: handlers read it.
	for _, l := range g.listeners {
		ready = append(ready, g.serve(srv, l))
	}
	return ready, nil
}

func (g *Gateway) newClient(l *sipListener) error {
	opts := []sipgo.ClientOption{sipgo.WithClientLogger(g.log), sipgo.WithClientHostname(l.bound.Addr().String())}
	if l.transport == "udp" {
		opts = append(opts, sipgo.WithClientConnectionAddr(l.bound.String()))
	}
	c, err := sipgo.NewClient(g.ua, opts...)
	if err != nil {
		return fmt.Errorf("gateway: sip %s client: %w", l.transport, err)
	}
	l.client = c
	return nil
}

// serve starts sipgo's loop on l; the channel is closed once it runs.
func (g *Gateway) serve(srv *sipgo.Server, l *sipListener) <-chan struct{} {
	run := func(f func() error) {
		g.serving.Go(func() {
			if err := f(); err != nil && !errors.Is(err, net.ErrClosed) {
				g.log.Error("sip listener stopped", "transport", l.transport, "addr", l.bound, "error", err)
			}
		})
	}
	started := make(chan struct{})
	switch l.transport {
	case "udp":
		rc := newReadyConn(newMalformedConn(l.udp, g.cfg.weakened(WeakenMalformedInput), g.log))
		run(func() error { return srv.ServeUDP(rc) })
		return rc.ready
	case "tcp":
		run(func() error { return srv.ServeTCP(l.stream) })
	case "tls":
		run(func() error { return srv.ServeTLS(l.stream) })
	case "ws":
		run(func() error { return srv.ServeWS(l.front) })
	case "wss":
		run(func() error { return srv.ServeWSS(l.front) })
	}
	close(started)
	return started
}

// listener returns the listener of transport (any case) whose family fits
// dest (an IP:port), else the first of that transport.
func (g *Gateway) listener(transport, dest string) *sipListener {
	transport = strings.ToLower(transport)
	var first *sipListener
	want, _ := netip.ParseAddrPort(dest)
	for _, l := range g.listeners {
		if l.transport != transport {
			continue
		}
		if first == nil {
			first = l
		}
		if want.IsValid() && l.bound.Addr().Is4() == want.Addr().Unmap().Is4() {
			return l
		}
	}
	return first
}

// contact is the gateway's Contact for a dialog over transport toward dest.
func (g *Gateway) contact(transport, dest string) *sip.ContactHeader {
	l := g.listener(transport, dest)
	if l == nil {
		return &sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "gateway", Host: g.cfg.Domain}}
	}
	u := sip.Uri{Scheme: "sip", User: "gateway", Host: l.bound.Addr().String(), Port: int(l.bound.Port())}
	if l.transport != "udp" {
		u.UriParams = sip.NewParams()
		u.UriParams.Add("transport", l.transport)
	}
	if l.transport == "tls" || l.transport == "wss" {
		u.Scheme = "sips"
	}
	return &sip.ContactHeader{Address: u}
}

// connLive reports whether a WebSocket connection from remote is open.
func (g *Gateway) connLive(remote string) bool {
	for _, l := range g.listeners {
		if l.front != nil && l.front.isLive(remote) {
			return true
		}
	}
	return false
}

// tokenSubject returns the bearer-token subject of the WebSocket
// connection a request came on, if tokens are in use.
func (g *Gateway) tokenSubject(remote string) (string, bool) {
	for _, l := range g.listeners {
		if l.front != nil {
			if s, ok := l.front.subject(remote); ok {
				return s, true
			}
		}
	}
	return "", false
}

func isWS(transport string) bool {
	return strings.EqualFold(transport, "WS") || strings.EqualFold(transport, "WSS")
}
