package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/pion/dtls/v3"
)

// DTLS roles the gateway can take toward an offer of a=setup:actpass (an
// offer of active gets passive, one of passive gets active, whatever the
// role: RFC 4145 4.1, RFC 5763 5).
const (
	// DTLSRoleServer answers a=setup:passive: the browser connects, and the
	// gateway's SRTP profile and cipher suite preferences decide.
	DTLSRoleServer = "server"
	// DTLSRoleClient answers a=setup:active.
	DTLSRoleClient = "client"
)

// srtpProfiles are the SRTP protection profiles the gateway accepts in
// config, by IANA name. NULL profiles are left out on purpose (hardened by
// default); the 32-bit-tag and AES-256-CM profiles are not implemented by
// pion's SRTP stack.
var srtpProfiles = map[string]dtls.SRTPProtectionProfile{
	"SRTP_AEAD_AES_256_GCM":       dtls.SRTP_AEAD_AES_256_GCM,
	"SRTP_AEAD_AES_128_GCM":       dtls.SRTP_AEAD_AES_128_GCM,
	"SRTP_AES128_CM_HMAC_SHA1_80": dtls.SRTP_AES128_CM_HMAC_SHA1_80,
}

// UserRange is a block of numbered users: Pattern with "{n}" replaced by
// Start, Start+1, ..., Start+Count-1 (e.g. web1000 ... web1999), all with
// one digest password. An empty Password is replaced by a random one when
// the gateway is made (see Gateway.Password).
type UserRange struct {
	Pattern  string `yaml:"pattern"`
	Start    int    `yaml:"start"`
	Count    int    `yaml:"count"`
	Password string `yaml:"password"`
}

// Listener is one extra SIP listener, e.g. on IPv6 loopback.
type Listener struct {
	Transport string `yaml:"transport"` // udp, tcp, tls, ws or wss
	Addr      string `yaml:"addr"`      // IP literal and port
}

// Config is the gateway's configuration. Start from DefaultConfig; the zero
// value is not valid. Every field is loadable from YAML (see
// reference.LoadConfig); durations are written like "90s".
type Config struct {
	// Domain is the SIP domain the registrar and B2BUA serve.
	Domain string `yaml:"domain"`
	// WSAddr, WSSAddr, UDPAddr, TCPAddr and TLSAddr are the listen
	// addresses (IP literal and port; port 0 picks a free one) of SIP over
	// WebSocket, secure WebSocket, UDP, TCP and TLS. Empty disables one,
	// but UDPAddr is required (requests toward UDP phones leave from it).
	WSAddr  string `yaml:"ws_addr"`
	WSSAddr string `yaml:"wss_addr"`
	UDPAddr string `yaml:"udp_addr"`
	TCPAddr string `yaml:"tcp_addr"`
	TLSAddr string `yaml:"tls_addr"`
	// Listen adds listeners, e.g. {transport: udp, addr: "[::1]:0"}.
	Listen []Listener `yaml:"listen"`
	// TLSCertFile and TLSKeyFile (PEM) serve wss and tls; both empty means
	// a self-signed ECDSA certificate made at start (see Gateway.RootCAs).
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// HTTPAddr serves /metrics (Prometheus) and the TURN REST credential
	// endpoint; empty disables both.
	HTTPAddr string `yaml:"http_addr"`

	// MediaIP is the IPv4 address of a local interface used for ICE host
	// candidates toward browsers and for RTP toward phones.
	MediaIP string `yaml:"media_ip"`
	// SRTPProfiles lists the SRTP protection profiles (IANA names) in the
	// gateway's order of preference.
	SRTPProfiles []string `yaml:"srtp_profiles"`
	// DTLSRole is the role the gateway takes in its answers to an offer of
	// actpass: "server" or "client". An offer of active or passive gets
	// the opposite role.
	DTLSRole string `yaml:"dtls_role"`
	// TrunkSRTP is how media toward phones (the trunk/PBX side) is
	// protected: "" or "none", plain RTP/AVP (the default); "sdes", SRTP
	// keyed in the SDP (RFC 4568), required: RTP/SAVP with a=crypto both
	// ways, and a phone speaking plain RTP gets 488.
	TrunkSRTP string `yaml:"trunk_srtp"`
	// SDESSuites are the SDES crypto-suites offered toward phones, in
	// order of preference, and the only ones accepted from them (see
	// SDESSuiteNames); used when TrunkSRTP is "sdes".
	SDESSuites []string `yaml:"sdes_suites"`

	// WebRTCUsers and SIPUsers make up the directory of known users.
	WebRTCUsers UserRange `yaml:"webrtc_users"`
	SIPUsers    UserRange `yaml:"sip_users"`

	// Auth configures digest authentication and WebSocket bearer tokens.
	Auth AuthConfig `yaml:"auth"`
	// RateLimit configures the limits on REGISTER, INVITE, WebSocket
	// upgrades and concurrent calls.
	RateLimit RateLimitConfig `yaml:"rate_limit"`
	// TURN configures the TURN REST credential endpoint.
	TURN TURNConfig `yaml:"turn"`

	// Registration lifetimes: a REGISTER without an expiry gets
	// DefaultExpires; one below MinExpires gets 423; one above MaxExpires is
	// granted MaxExpires (and the 200 OK says so, as RFC 3261 10.3 allows).
	DefaultExpires time.Duration `yaml:"default_expires"`
	MinExpires     time.Duration `yaml:"min_expires"`
	MaxExpires     time.Duration `yaml:"max_expires"`
	// MaxBindings caps the contacts one address-of-record may register.
	MaxBindings int `yaml:"max_bindings"`

	// InviteTimeout bounds how long the B2BUA waits for the callee's final
	// answer before it CANCELs and answers the caller 408.
	InviteTimeout time.Duration `yaml:"invite_timeout"`
	// DrainTimeout is how long Drain (and `gauntlet reference` on SIGINT)
	// lets calls run on, refusing new ones, before it BYEs the rest.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// KeepaliveInterval, when positive, sends OPTIONS to every UDP, TCP and
	// TLS binding this often; a binding that does not answer is dropped.
	KeepaliveInterval time.Duration `yaml:"keepalive_interval"`
	// RTCPInterval is the mean time between the gateway's RTCP reports on
	// a phone leg (RFC 3550 6.2; randomised to 0.5-1.5 times it); 0 sends
	// none, and then no RTCP socket is opened either.
	RTCPInterval time.Duration `yaml:"rtcp_interval"`

	// Weaken switches named defences off (see Weaken* constants), so that
	// attacks can show they detect the weakness.
	Weaken []string `yaml:"weaken"`
	// Faults inject breakage (see Fault).
	Faults []Fault `yaml:"faults"`

	// Logger receives the gateway's logs (and pion's); nil discards them.
	Logger *slog.Logger `yaml:"-"`
}

// DefaultConfig returns the hardened defaults: loopback on free ports for
// every transport, SRTP_AEAD_AES_128_GCM preferred over
// SRTP_AES128_CM_HMAC_SHA1_80, DTLS server role, plain RTP toward phones
// (with DefaultSDESSuites ready for trunk_srtp: sdes), users web1000-web1999 and
// desk2000-desk2999 with random passwords, digest (SHA-256 offered before
// MD5) on REGISTER and INVITE, and rate limits that legitimate load from
// many sources does not reach.
func DefaultConfig() Config {
	return Config{
		Domain:         "gauntlet.test",
		WSAddr:         "127.0.0.1:0",
		WSSAddr:        "127.0.0.1:0",
		UDPAddr:        "127.0.0.1:0",
		TCPAddr:        "127.0.0.1:0",
		TLSAddr:        "127.0.0.1:0",
		HTTPAddr:       "127.0.0.1:0",
		MediaIP:        "127.0.0.1",
		SRTPProfiles:   []string{"SRTP_AEAD_AES_128_GCM", "SRTP_AES128_CM_HMAC_SHA1_80"},
		DTLSRole:       DTLSRoleServer,
		SDESSuites:     DefaultSDESSuites(),
		WebRTCUsers:    UserRange{Pattern: "web{n}", Start: 1000, Count: 1000},
		SIPUsers:       UserRange{Pattern: "desk{n}", Start: 2000, Count: 1000},
		Auth:           DefaultAuthConfig(),
		RateLimit:      DefaultRateLimitConfig(),
		TURN:           TURNConfig{TTL: time.Hour},
		DefaultExpires: time.Hour,
		MinExpires:     time.Minute,
		MaxExpires:     2 * time.Hour,
		MaxBindings:    8,
		InviteTimeout:  time.Minute,
		DrainTimeout:   30 * time.Second,
		RTCPInterval:   5 * time.Second,
	}
}

// FieldError is a Validate failure: the YAML path of the field (e.g.
// "rate_limit.register_per_source.burst") and what is wrong with it. It
// wraps ErrInvalidConfig.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%v: %s: %s", ErrInvalidConfig, e.Field, e.Msg)
}
func (e *FieldError) Unwrap() error { return ErrInvalidConfig }

// Validate reports the first invalid field as a *FieldError (wrapping
// ErrInvalidConfig). It never changes the config.
func (c Config) Validate() error {
	for _, check := range []func() error{
		c.validateNetwork,
		c.validateSecurity,
		c.validateSDES,
		c.validateUsers,
		c.validateTimers,
		c.Auth.validate,
		c.RateLimit.validate,
		c.TURN.validate,
		c.validateWeaken,
		c.validateFaults,
	} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// prefixed returns err with its field path under parent.
func prefixed(parent string, err error) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		return &FieldError{Field: parent + "." + fe.Field, Msg: fe.Msg}
	}
	return err
}

// transports a listener may name.
var transports = map[string]bool{"udp": true, "tcp": true, "tls": true, "ws": true, "wss": true}

func checkAddr(field, addr string, required bool) error {
	if addr == "" {
		if required {
			return invalid(field, "required")
		}
		return nil
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return invalid(field, "%q is not IP:port: %v", addr, err)
	}
	if ap.Addr().IsUnspecified() {
		return invalid(field, "%q: bind a specific address (it is advertised in Via and Contact)", addr)
	}
	if ap.Addr().Zone() != "" {
		return invalid(field, "%q: zones are not supported", addr)
	}
	return nil
}

func (c Config) validateNetwork() error {
	if c.Domain == "" || strings.ContainsAny(c.Domain, " \t@:;<>\"") {
		return invalid("domain", "%q is not a host name", c.Domain)
	}
	for _, f := range []struct {
		name, addr string
		required   bool
	}{
		{"ws_addr", c.WSAddr, false}, {"wss_addr", c.WSSAddr, false}, {"udp_addr", c.UDPAddr, true},
		{"tcp_addr", c.TCPAddr, false}, {"tls_addr", c.TLSAddr, false}, {"http_addr", c.HTTPAddr, false},
	} {
		if err := checkAddr(f.name, f.addr, f.required); err != nil {
			return err
		}
	}
	if c.WSAddr == "" && c.WSSAddr == "" {
		return invalid("ws_addr", "set ws_addr or wss_addr: browsers need one")
	}
	for i, l := range c.Listen {
		field := fmt.Sprintf("listen[%d]", i)
		if !transports[l.Transport] {
			return invalid(field+".transport", "%q is not one of udp, tcp, tls, ws, wss", l.Transport)
		}
		if err := checkAddr(field+".addr", l.Addr, true); err != nil {
			return err
		}
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return invalid("tls_key_file", "give tls_cert_file and tls_key_file together, or neither")
	}
	ip, err := netip.ParseAddr(c.MediaIP)
	if err != nil || !ip.Is4() || ip.IsUnspecified() {
		return invalid("media_ip", "%q is not a specific IPv4 address", c.MediaIP)
	}
	return nil
}

func (c Config) validateSecurity() error {
	if len(c.SRTPProfiles) == 0 {
		return invalid("srtp_profiles", "empty")
	}
	seen := map[string]bool{}
	for _, name := range c.SRTPProfiles {
		if _, ok := srtpProfiles[name]; !ok {
			return invalid("srtp_profiles", "%q is not one of %s", name, strings.Join(supportedProfileNames(), ", "))
		}
		if seen[name] {
			return invalid("srtp_profiles", "%q listed twice", name)
		}
		seen[name] = true
	}
	if c.DTLSRole != DTLSRoleServer && c.DTLSRole != DTLSRoleClient {
		return invalid("dtls_role", "%q is neither %q nor %q", c.DTLSRole, DTLSRoleServer, DTLSRoleClient)
	}
	return nil
}

func (c Config) validateUsers() error {
	for _, r := range []struct {
		name string
		r    UserRange
	}{{"webrtc_users", c.WebRTCUsers}, {"sip_users", c.SIPUsers}} {
		if err := r.r.validate(); err != nil {
			return invalid(r.name, "%v", err)
		}
	}
	if c.WebRTCUsers.overlaps(c.SIPUsers) {
		return invalid("sip_users", "overlaps webrtc_users")
	}
	return nil
}

func (c Config) validateTimers() error {
	switch {
	case c.MinExpires < time.Second:
		return invalid("min_expires", "%v is below 1s", c.MinExpires)
	case c.MaxExpires < c.MinExpires:
		return invalid("max_expires", "%v is below min_expires %v", c.MaxExpires, c.MinExpires)
	case c.DefaultExpires < c.MinExpires || c.DefaultExpires > c.MaxExpires:
		return invalid("default_expires", "%v is outside [min_expires, max_expires]", c.DefaultExpires)
	case c.MinExpires%time.Second != 0 || c.MaxExpires%time.Second != 0 || c.DefaultExpires%time.Second != 0:
		return invalid("min_expires", "registration lifetimes must be whole seconds")
	case c.MaxBindings < 1:
		return invalid("max_bindings", "%d is below 1", c.MaxBindings)
	case c.InviteTimeout <= 0:
		return invalid("invite_timeout", "%v is not positive", c.InviteTimeout)
	case c.DrainTimeout < 0:
		return invalid("drain_timeout", "%v is negative", c.DrainTimeout)
	case c.KeepaliveInterval < 0:
		return invalid("keepalive_interval", "%v is negative", c.KeepaliveInterval)
	case c.KeepaliveInterval > 0 && c.KeepaliveInterval < time.Second:
		return invalid("keepalive_interval", "%v is below 1s", c.KeepaliveInterval)
	case c.RTCPInterval < 0:
		return invalid("rtcp_interval", "%v is negative (0 turns RTCP toward phones off)", c.RTCPInterval)
	case c.RTCPInterval > 0 && c.RTCPInterval < 10*time.Millisecond:
		return invalid("rtcp_interval", "%v is below 10ms", c.RTCPInterval)
	}
	return nil
}

func supportedProfileNames() []string {
	return []string{"SRTP_AEAD_AES_256_GCM", "SRTP_AEAD_AES_128_GCM", "SRTP_AES128_CM_HMAC_SHA1_80"}
}

// dtlsProfiles returns the configured profiles in pion's type; call only on a
// validated config.
func (c Config) dtlsProfiles() []dtls.SRTPProtectionProfile {
	out := make([]dtls.SRTPProtectionProfile, 0, len(c.SRTPProfiles))
	for _, name := range c.SRTPProfiles {
		out = append(out, srtpProfiles[name])
	}
	return out
}

// mediaIP returns MediaIP parsed; call only on a validated config.
func (c Config) mediaIP() net.IP {
	return net.ParseIP(c.MediaIP).To4()
}

// logger returns the configured logger or one that discards.
func (c Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}
