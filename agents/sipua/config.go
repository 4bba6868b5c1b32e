package sipua

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Version is what the default User-Agent header carries.
const Version = "0.1"

// Transports a Config can name.
const (
	TransportWS  = "ws"
	TransportWSS = "wss"
	TransportUDP = "udp"
	TransportTCP = "tcp"
	TransportTLS = "tls"
)

// Config describes one virtual SIP user agent. Zero fields take the defaults
// documented on each; Validate says which field is wrong.
type Config struct {
	Transport string // "ws", "wss", "udp", "tcp" or "tls"
	// Server is ws(s)://host:port/path for ws/wss, host:port for udp (the
	// registrar and outbound proxy: every udp request is sent there).
	Server   string
	Domain   string // AOR domain; default: Server's host
	User     string // user part of the AOR
	Password string // digest password; empty: challenges are not answered
	AuthUser string // digest username when it differs from User

	// DialContext opens the TCP connection for ws/wss; default net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// ListenPacket binds the udp socket; default net.ListenPacket.
	ListenPacket func(network, addr string) (net.PacketConn, error)
	// LocalIP is the source address for udp (bound, and written in Via and
	// Contact). Unset, udp binds the loopback address of Server's family,
	// which only works when Server is on loopback.
	LocalIP   netip.Addr
	TLSConfig *tls.Config // wss; nil: Go's defaults
	// Token, when set, gives the bearer token (RFC 6750) each WebSocket
	// upgrade carries: in an Authorization header, or with TokenInQuery in
	// an access_token query parameter (browsers cannot set headers on a
	// WebSocket). It is called once per connection, so a short-lived
	// token is fresh. ws and wss only.
	Token        func(ctx context.Context) (string, error)
	TokenInQuery bool

	UserAgent string       // User-Agent header; default "Gauntlet/<Version>"
	Logger    *slog.Logger // default: discard

	// Timers are RFC 3261's T1, T2 and T4; zero fields take the RFC defaults.
	Timers Timers
	// IncomingQueue is how many inbound INVITEs wait on Incoming before
	// further ones are answered 486; default 16.
	IncomingQueue int
}

// Timers are the RFC 3261 §17.1.1.1 timer values every other timer derives
// from: Timer A/E start at T1 and double (E up to T2), B/F/H/J are 64*T1,
// K/I are T4, D is at least 32 s on udp.
type Timers struct {
	T1 time.Duration // RTT estimate; RFC default 500 ms
	T2 time.Duration // maximum retransmit interval for non-INVITE requests and INVITE 2xx; RFC default 4 s
	T4 time.Duration // maximum time a message stays in the network; RFC default 5 s
}

// DefaultTimers returns the values RFC 3261 recommends.
func DefaultTimers() Timers {
	return Timers{T1: 500 * time.Millisecond, T2: 4 * time.Second, T4: 5 * time.Second}
}

// Validate reports the first invalid field of c.
func (c Config) Validate() error {
	switch c.Transport {
	case TransportWS, TransportWSS:
		u, err := url.Parse(c.Server)
		if err != nil {
			return fmt.Errorf("%w: Server %q: %w", ErrConfig, c.Server, err)
		}
		if u.Scheme != c.Transport || u.Host == "" {
			return fmt.Errorf("%w: Server %q: want %s://host:port/path", ErrConfig, c.Server, c.Transport)
		}
	case TransportUDP, TransportTCP, TransportTLS:
		if _, _, err := splitHostPort(c.Server); err != nil {
			return fmt.Errorf("%w: Server %q: want host:port: %w", ErrConfig, c.Server, err)
		}
	case "":
		return fmt.Errorf("%w: Transport is empty (ws, wss, udp, tcp or tls)", ErrConfig)
	default:
		return fmt.Errorf("%w: Transport %q is not supported (ws, wss, udp, tcp or tls)", ErrConfig, c.Transport)
	}
	if c.User == "" {
		return fmt.Errorf("%w: User is empty", ErrConfig)
	}
	if strings.ContainsAny(c.User, "@:;<>\" \t\r\n") {
		return fmt.Errorf("%w: User %q is not a plain SIP user part", ErrConfig, c.User)
	}
	if strings.ContainsAny(c.Domain, "@;<>\" \t\r\n") {
		return fmt.Errorf("%w: Domain %q is not a host", ErrConfig, c.Domain)
	}
	if c.LocalIP.IsValid() && c.LocalIP.Zone() != "" {
		return fmt.Errorf("%w: LocalIP %s: zones are not supported", ErrConfig, c.LocalIP)
	}
	t := c.Timers
	if t.T1 < 0 || t.T2 < 0 || t.T4 < 0 {
		return fmt.Errorf("%w: Timers %+v: negative", ErrConfig, t)
	}
	if t = t.withDefaults(); t.T2 < t.T1 {
		return fmt.Errorf("%w: Timers: T2 %s is less than T1 %s", ErrConfig, t.T2, t.T1)
	}
	if c.IncomingQueue < 0 {
		return fmt.Errorf("%w: IncomingQueue %d is negative", ErrConfig, c.IncomingQueue)
	}
	return nil
}

func (t Timers) withDefaults() Timers {
	d := DefaultTimers()
	if t.T1 == 0 {
		t.T1 = d.T1
	}
	if t.T2 == 0 {
		t.T2 = d.T2
	}
	if t.T4 == 0 {
		t.T4 = d.T4
	}
	return t
}

// withDefaults returns c with every unset field given its default. c must be valid.
func (c Config) withDefaults() Config {
	if c.Domain == "" {
		c.Domain = c.serverHost()
	}
	if c.DialContext == nil {
		var d net.Dialer
		c.DialContext = d.DialContext
	}
	if c.ListenPacket == nil {
		c.ListenPacket = net.ListenPacket
	}
	if c.UserAgent == "" {
		c.UserAgent = "Gauntlet/" + Version
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Timers = c.Timers.withDefaults()
	if c.IncomingQueue == 0 {
		c.IncomingQueue = 16
	}
	return c
}

// serverHost is the host part of Server, without port or brackets.
func (c Config) serverHost() string {
	if c.Transport == TransportUDP || c.Transport == TransportTCP || c.Transport == TransportTLS {
		h, _, _ := splitHostPort(c.Server)
		return h
	}
	u, err := url.Parse(c.Server)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

func (c Config) authUser() string {
	if c.AuthUser != "" {
		return c.AuthUser
	}
	return c.User
}

// splitHostPort splits a udp server address, which must name its port.
func splitHostPort(s string) (string, int, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		return "", 0, fmt.Errorf("bad port %q", port)
	}
	if host == "" {
		return "", 0, fmt.Errorf("empty host")
	}
	return host, p, nil
}
