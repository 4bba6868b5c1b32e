package gateway

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/pion/dtls/v3"
)

// DTLS roles the gateway can take in its SDP answers.
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
// Start, Start+1, ..., Start+Count-1 (e.g. web1000 ... web1999).
type UserRange struct {
	Pattern string `yaml:"pattern"`
	Start   int    `yaml:"start"`
	Count   int    `yaml:"count"`
}

// Config is the gateway's configuration. Start from DefaultConfig; the zero
// value is not valid.
type Config struct {
	// Domain is the SIP domain the registrar and B2BUA serve.
	Domain string `yaml:"domain"`
	// WSAddr is the SIP-over-WebSocket listen address (IP literal and port;
	// port 0 picks a free one).
	WSAddr string `yaml:"ws_addr"`
	// UDPAddr is the SIP-over-UDP listen address (IP literal and port).
	UDPAddr string `yaml:"udp_addr"`
	// MediaIP is the IPv4 address of a local interface used for ICE host
	// candidates toward browsers and for RTP toward phones.
	MediaIP string `yaml:"media_ip"`
	// SRTPProfiles lists the SRTP protection profiles (IANA names) in the
	// gateway's order of preference.
	SRTPProfiles []string `yaml:"srtp_profiles"`
	// DTLSRole is the role the gateway takes in its answers: "server" or "client".
	DTLSRole string `yaml:"dtls_role"`

	// WebRTCUsers and SIPUsers make up the directory of known users.
	WebRTCUsers UserRange `yaml:"webrtc_users"`
	SIPUsers    UserRange `yaml:"sip_users"`

	// Registration lifetimes: a REGISTER without an expiry gets
	// DefaultExpires; one below MinExpires gets 423; one above MaxExpires is
	// granted MaxExpires (and the 200 OK says so, as RFC 3261 10.3 allows).
	DefaultExpires time.Duration `yaml:"default_expires"`
	MinExpires     time.Duration `yaml:"min_expires"`
	MaxExpires     time.Duration `yaml:"max_expires"`
	// MaxBindings caps the contacts one address-of-record may register.
	MaxBindings int `yaml:"max_bindings"`

	// InviteTimeout bounds how long the B2BUA waits for the phone's final
	// answer before it CANCELs and answers the browser 408.
	InviteTimeout time.Duration `yaml:"invite_timeout"`

	// Logger receives the gateway's logs (and pion's); nil discards them.
	Logger *slog.Logger `yaml:"-"`
}

// DefaultConfig returns the hardened defaults: loopback on free ports,
// SRTP_AEAD_AES_128_GCM preferred over SRTP_AES128_CM_HMAC_SHA1_80, DTLS
// server role, users web1000-web1999 and desk2000-desk2999.
func DefaultConfig() Config {
	return Config{
		Domain:         "gauntlet.test",
		WSAddr:         "127.0.0.1:0",
		UDPAddr:        "127.0.0.1:0",
		MediaIP:        "127.0.0.1",
		SRTPProfiles:   []string{"SRTP_AEAD_AES_128_GCM", "SRTP_AES128_CM_HMAC_SHA1_80"},
		DTLSRole:       DTLSRoleServer,
		WebRTCUsers:    UserRange{Pattern: "web{n}", Start: 1000, Count: 1000},
		SIPUsers:       UserRange{Pattern: "desk{n}", Start: 2000, Count: 1000},
		DefaultExpires: time.Hour,
		MinExpires:     time.Minute,
		MaxExpires:     2 * time.Hour,
		MaxBindings:    8,
		InviteTimeout:  time.Minute,
	}
}

// Validate reports the first invalid field, wrapped in ErrInvalidConfig.
// It never changes the config.
func (c Config) Validate() error {
	for _, check := range []func() error{
		c.validateNetwork,
		c.validateSecurity,
		c.validateUsers,
		c.validateTimers,
	} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
}

func (c Config) validateNetwork() error {
	if c.Domain == "" || strings.ContainsAny(c.Domain, " \t@:;<>\"") {
		return invalid("domain", "%q is not a host name", c.Domain)
	}
	for _, f := range []struct{ name, addr string }{{"ws_addr", c.WSAddr}, {"udp_addr", c.UDPAddr}} {
		ap, err := netip.ParseAddrPort(f.addr)
		if err != nil {
			return invalid(f.name, "%q is not IP:port: %v", f.addr, err)
		}
		if ap.Addr().IsUnspecified() {
			return invalid(f.name, "%q: bind a specific address (it is advertised in Via and Contact)", f.addr)
		}
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
