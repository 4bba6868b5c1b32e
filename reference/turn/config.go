package turn

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Weaken switches: each names one defence that Config.Weaken turns off, so
// that an attack can show it detects the weakness and passes where the
// defence is on.
const (
	// WeakenPeerDeny relays to any peer, private and special ranges included.
	WeakenPeerDeny = "peer-deny"
	// WeakenCredentialExpiry accepts TURN REST credentials past their expiry.
	WeakenCredentialExpiry = "credential-expiry"
	// WeakenQuota lifts the per-user allocation quota.
	WeakenQuota = "quota"
	// WeakenBandwidthCap lifts the per-allocation bandwidth cap.
	WeakenBandwidthCap = "bandwidth-cap"
	// WeakenSTUNValidation hands malformed STUN messages and messages with
	// a bad FINGERPRINT to pion unchecked, instead of dropping them as
	// RFC 8489 6.3 and 14.7 say (pion answers a bad FINGERPRINT).
	WeakenSTUNValidation = "stun-validation"
)

// WeakenNames lists every switch Config.Weaken accepts.
var WeakenNames = []string{WeakenPeerDeny, WeakenCredentialExpiry, WeakenQuota, WeakenBandwidthCap, WeakenSTUNValidation}

// RFC 8656 lifetimes.
const (
	// DefaultAllocationLifetime is the lifetime an allocation gets when the
	// client asks for none or for less (RFC 8656 3.2, 7.2).
	DefaultAllocationLifetime = 600 * time.Second
	// RecommendedMaxLifetime is the largest lifetime RFC 8656 recommends,
	// and the largest this relay grants.
	RecommendedMaxLifetime = time.Hour
	// PermissionLifetime is fixed by RFC 8656 9 at 300 s.
	PermissionLifetime = 300 * time.Second
	// ChannelLifetime is fixed by RFC 8656 12 at 10 minutes.
	ChannelLifetime = 600 * time.Second
)

// Config is the relay's configuration. Start from DefaultConfig; the zero
// value is not valid.
type Config struct {
	// Realm is the long-term credential realm (RFC 8489 9.2).
	Realm string `yaml:"realm"`
	// UDP, TCP and TLS list listen addresses (IP literal and port; port 0
	// picks a free one), IPv4 or IPv6. At least one listener is required.
	UDP []string `yaml:"udp"`
	TCP []string `yaml:"tcp"`
	TLS []string `yaml:"tls"`
	// RelayIPv4 and RelayIPv6 are the addresses relayed transport addresses
	// are allocated on; an empty one turns that family off.
	RelayIPv4 string `yaml:"relay_ipv4"`
	RelayIPv6 string `yaml:"relay_ipv6"`

	// Secrets are TURN REST shared secrets: usernames "<unix-expiry>:<user>",
	// passwords base64(HMAC-SHA1(secret, username)). Secrets[0] is current;
	// a second one is accepted during a rotation. At most two.
	Secrets []string `yaml:"secrets"`
	// Users are static long-term users, name to password.
	Users map[string]string `yaml:"users"`

	// AllowLoopbackPeers lets clients relay to 127.0.0.0/8 and ::1, which
	// the peer policy otherwise denies. Tests on loopback need it.
	AllowLoopbackPeers bool `yaml:"allow_loopback_peers"`
	// DeniedPeers are prefixes denied on top of DeniedPeerPrefixes.
	DeniedPeers []string `yaml:"denied_peers"`

	// MaxAllocationsPerUser is the per-user allocation quota; one more
	// Allocate gets 486 (RFC 8656 7.2).
	MaxAllocationsPerUser int `yaml:"max_allocations_per_user"`
	// BandwidthBitsPerSecond caps each allocation's relayed payload, per
	// direction; what goes over is discarded. 0 means no cap.
	BandwidthBitsPerSecond int64 `yaml:"bandwidth_bps"`
	// MaxLifetime is the largest allocation lifetime granted, between
	// DefaultAllocationLifetime and RecommendedMaxLifetime.
	MaxLifetime time.Duration `yaml:"max_lifetime"`

	// TLSCertFile and TLSKeyFile hold the TLS listeners' certificate and key
	// (PEM). Empty: a self-signed ECDSA P-256 certificate for the listen
	// addresses is made at Start (see Server.CertificatePEM).
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`

	// MetricsAddr, if set, serves the counters in the Prometheus text
	// format at http://MetricsAddr/metrics (IP literal and port).
	MetricsAddr string `yaml:"metrics_addr"`

	// Weaken lists defences to switch off (WeakenNames).
	Weaken []string `yaml:"weaken"`

	// Logger receives the relay's logs (and pion's); nil discards them.
	Logger *slog.Logger `yaml:"-"`
	// Now is the clock credentials expire by; nil means time.Now.
	Now func() time.Time `yaml:"-"`
}

// DefaultConfig returns the hardened defaults: UDP and TCP listeners on
// 127.0.0.1 and ::1, TLS on 127.0.0.1, all on free ports; relays on the
// loopback addresses; a fresh random REST secret and one static user
// ("gauntlet") with a random password; the deny-by-default peer policy
// with loopback peers denied; 10 allocations per user; 1 Mbit/s per
// allocation and direction; lifetimes capped at one hour.
func DefaultConfig() Config {
	return Config{
		Realm:                  "gauntlet.test",
		UDP:                    []string{"127.0.0.1:0", "[::1]:0"},
		TCP:                    []string{"127.0.0.1:0", "[::1]:0"},
		TLS:                    []string{"127.0.0.1:0"},
		RelayIPv4:              "127.0.0.1",
		RelayIPv6:              "::1",
		Secrets:                []string{randomSecret()},
		Users:                  map[string]string{"gauntlet": randomSecret()},
		MaxAllocationsPerUser:  10,
		BandwidthBitsPerSecond: 1_000_000,
		MaxLifetime:            RecommendedMaxLifetime,
	}
}

// DefaultTestConfig is DefaultConfig with loopback peers allowed, as tests
// and the embedded reference need (every agent lives on loopback).
func DefaultTestConfig() Config {
	c := DefaultConfig()
	c.AllowLoopbackPeers = true
	return c
}

func randomSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Validate reports the first invalid field, wrapped in ErrInvalidConfig. It
// never changes the config.
func (c Config) Validate() error {
	for _, check := range []func() error{c.validateListeners, c.validateAuth, c.validatePolicy} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
}

func (c Config) validateListeners() error {
	if len(c.UDP)+len(c.TCP)+len(c.TLS) == 0 {
		return invalid("udp", "no listener: give at least one udp, tcp or tls address")
	}
	for _, l := range []struct {
		name  string
		addrs []string
	}{{"udp", c.UDP}, {"tcp", c.TCP}, {"tls", c.TLS}} {
		for i, a := range l.addrs {
			ap, err := netip.ParseAddrPort(a)
			if err != nil {
				return invalid(fmt.Sprintf("%s[%d]", l.name, i), "%q is not IP:port: %v", a, err)
			}
			if ap.Addr().IsUnspecified() {
				return invalid(fmt.Sprintf("%s[%d]", l.name, i), "%q: bind a specific address (clients and the peer policy need it)", a)
			}
		}
	}
	if c.RelayIPv4 == "" && c.RelayIPv6 == "" {
		return invalid("relay_ipv4", "no relay address: set relay_ipv4 or relay_ipv6")
	}
	if c.RelayIPv4 != "" {
		if a, err := netip.ParseAddr(c.RelayIPv4); err != nil || !a.Is4() || a.IsUnspecified() {
			return invalid("relay_ipv4", "%q is not a specific IPv4 address", c.RelayIPv4)
		}
	}
	if c.RelayIPv6 != "" {
		if a, err := netip.ParseAddr(c.RelayIPv6); err != nil || !a.Is6() || a.Is4In6() || a.IsUnspecified() {
			return invalid("relay_ipv6", "%q is not a specific IPv6 address", c.RelayIPv6)
		}
	}
	if c.MetricsAddr != "" {
		if _, err := netip.ParseAddrPort(c.MetricsAddr); err != nil {
			return invalid("metrics_addr", "%q is not IP:port: %v", c.MetricsAddr, err)
		}
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return invalid("tls_cert_file", "give both tls_cert_file and tls_key_file, or neither")
	}
	return nil
}

func (c Config) validateAuth() error {
	if c.Realm == "" || strings.ContainsAny(c.Realm, "\"\\\r\n") {
		return invalid("realm", "%q is empty or has quotes or line breaks", c.Realm)
	}
	if len(c.Secrets) == 0 && len(c.Users) == 0 {
		return invalid("secrets", "no credentials: give secrets or users (an open relay is not offered)")
	}
	if len(c.Secrets) > 2 {
		return invalid("secrets", "%d secrets: at most two (current and previous, during a rotation)", len(c.Secrets))
	}
	for i, s := range c.Secrets {
		if len(s) < 16 {
			return invalid(fmt.Sprintf("secrets[%d]", i), "shorter than 16 characters")
		}
	}
	for u, p := range c.Users {
		if u == "" || p == "" {
			return invalid("users", "user %q has an empty name or password", u)
		}
		if _, _, ok := parseRESTUsername(u); ok && len(c.Secrets) > 0 {
			return invalid("users", "user %q looks like a TURN REST username (<expiry>:<user>)", u)
		}
	}
	for _, w := range c.Weaken {
		if !slices.Contains(WeakenNames, w) {
			return invalid("weaken", "%q is not one of %s", w, strings.Join(WeakenNames, ", "))
		}
	}
	return nil
}

func (c Config) validatePolicy() error {
	for i, p := range c.DeniedPeers {
		if _, err := netip.ParsePrefix(p); err != nil {
			return invalid(fmt.Sprintf("denied_peers[%d]", i), "%q is not a prefix: %v", p, err)
		}
	}
	switch {
	case c.MaxAllocationsPerUser < 1:
		return invalid("max_allocations_per_user", "%d is below 1", c.MaxAllocationsPerUser)
	case c.BandwidthBitsPerSecond < 0:
		return invalid("bandwidth_bps", "%d is negative", c.BandwidthBitsPerSecond)
	case c.BandwidthBitsPerSecond > 0 && c.BandwidthBitsPerSecond < 8*1500*5:
		return invalid("bandwidth_bps", "%d is below 60000 (five full-size datagrams a second)", c.BandwidthBitsPerSecond)
	case c.MaxLifetime < DefaultAllocationLifetime || c.MaxLifetime > RecommendedMaxLifetime:
		return invalid("max_lifetime", "%v is outside [%v, %v] (RFC 8656 7.2)", c.MaxLifetime, DefaultAllocationLifetime, RecommendedMaxLifetime)
	case c.MaxLifetime%time.Second != 0:
		return invalid("max_lifetime", "%v is not whole seconds", c.MaxLifetime)
	}
	return nil
}

func (c Config) weakened(name string) bool { return slices.Contains(c.Weaken, name) }

func (c Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

func (c Config) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}
