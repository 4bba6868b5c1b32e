package gateway

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Digest algorithms the gateway can offer (RFC 8760).
const (
	DigestSHA256 = "SHA-256"
	DigestMD5    = "MD5"
)

// AuthConfig configures authentication.
type AuthConfig struct {
	// Realm of the digest challenges; empty means the Domain.
	Realm string `yaml:"realm"`
	// Algorithms are offered in this order, one WWW-Authenticate each
	// (RFC 8760 4: the preferred first). SHA-256 and MD5 are supported.
	Algorithms []string `yaml:"algorithms"`
	// NonceTTL is how long a nonce is good; after it the answer is 401
	// with stale=true.
	NonceTTL time.Duration `yaml:"nonce_ttl"`
	// JWT, when its Algorithm is set, requires a bearer token on every
	// WebSocket upgrade.
	JWT JWTConfig `yaml:"jwt"`
	// Lockout stops digest password guessing.
	Lockout LockoutConfig `yaml:"lockout"`
}

// DefaultAuthConfig offers SHA-256 before MD5, with 5-minute nonces, no
// bearer token on the WebSocket upgrade, and DefaultLockoutConfig.
func DefaultAuthConfig() AuthConfig {
	return AuthConfig{Algorithms: []string{DigestSHA256, DigestMD5}, NonceTTL: 5 * time.Minute, Lockout: DefaultLockoutConfig()}
}

// LockoutConfig stops digest password guessing. A wrong digest response
// (not a missing one, a stale nonce or a replay) counts one failure for
// the user it names, known or not, and one for the source address. Once
// a user has PerUser failures, or a source PerSource, within Window, it is
// locked out for Duration: a request carrying credentials for that user or
// from that source is answered 503 with Retry-After (the time left) before
// its credentials are looked at, so a right guess is answered exactly like
// a wrong one. Requests without credentials are still challenged, so a
// lockout shows nothing of whether the user exists.
//
// 503 rather than 403: 403 tells a phone that retrying will not help (RFC
// 3261 21.4.4), and a legitimate phone whose account an attacker locked
// must come back by itself once the lockout ends; 503 with Retry-After
// says when (21.5.4), and is what the rate limits answer too. A success
// clears the user's failures (not the source's: one valid account must
// not reset a spray).
type LockoutConfig struct {
	PerUser   int           `yaml:"per_user"`
	PerSource int           `yaml:"per_source"`
	Window    time.Duration `yaml:"window"`
	Duration  time.Duration `yaml:"duration"`
}

// DefaultLockoutConfig locks a user out after 5 wrong passwords, and a
// source after 20 (several users behind one NAT may mistype), within 10
// minutes, for 5 minutes. Legitimate clients never send wrong passwords
// unless misconfigured, so load never trips it.
func DefaultLockoutConfig() LockoutConfig {
	return LockoutConfig{PerUser: 5, PerSource: 20, Window: 10 * time.Minute, Duration: 5 * time.Minute}
}

func (l LockoutConfig) validate() error {
	switch {
	case l.PerUser < 1:
		return invalid("lockout.per_user", "%d is below 1", l.PerUser)
	case l.PerSource < 1:
		return invalid("lockout.per_source", "%d is below 1", l.PerSource)
	case l.Window < time.Second:
		return invalid("lockout.window", "%v is below 1s", l.Window)
	case l.Duration < time.Second:
		return invalid("lockout.duration", "%v is below 1s", l.Duration)
	}
	return nil
}

// JWT algorithms a JWTConfig may pin.
const (
	JWTHS256 = "HS256"
	JWTES256 = "ES256"
	JWTRS256 = "RS256"
	JWTEdDSA = "EdDSA"
)

// JWTConfig configures the bearer token a WebSocket upgrade must carry, in
// an "Authorization: Bearer" header or an access_token query parameter. The
// token's algorithm is pinned, its audience and expiry are required, and
// its subject, when present, is the only SIP user the connection may
// register or call as.
type JWTConfig struct {
	// Algorithm pins the signature algorithm: HS256, ES256, RS256 or
	// EdDSA; empty disables tokens.
	Algorithm string `yaml:"algorithm"`
	// Secret is the HS256 key.
	Secret string `yaml:"secret"`
	// PublicKeyFile is the PEM public key for ES256, RS256 and EdDSA.
	PublicKeyFile string `yaml:"public_key_file"`
	// Audience the token must name.
	Audience string `yaml:"audience"`
	// Issuer the token must name, if set.
	Issuer string `yaml:"issuer"`
	// Leeway tolerates clock skew on exp and nbf.
	Leeway time.Duration `yaml:"leeway"`
}

// Enabled reports whether tokens are required.
func (j JWTConfig) Enabled() bool { return j.Algorithm != "" }

func (a AuthConfig) validate() error {
	if strings.ContainsAny(a.Realm, "\"\r\n") {
		return invalid("auth.realm", "%q may not contain quotes or line breaks", a.Realm)
	}
	if len(a.Algorithms) == 0 {
		return invalid("auth.algorithms", "empty (offer SHA-256, MD5 or both)")
	}
	seen := map[string]bool{}
	for _, alg := range a.Algorithms {
		if alg != DigestSHA256 && alg != DigestMD5 {
			return invalid("auth.algorithms", "%q is not %s or %s", alg, DigestSHA256, DigestMD5)
		}
		if seen[alg] {
			return invalid("auth.algorithms", "%q listed twice", alg)
		}
		seen[alg] = true
	}
	if a.NonceTTL < time.Second {
		return invalid("auth.nonce_ttl", "%v is below 1s", a.NonceTTL)
	}
	if err := a.Lockout.validate(); err != nil {
		return prefixed("auth", err)
	}
	return prefixed("auth", a.JWT.validate())
}

func (j JWTConfig) validate() error {
	switch j.Algorithm {
	case "":
		return nil
	case JWTHS256:
		if len(j.Secret) < 32 {
			return invalid("jwt.secret", "an HS256 secret needs at least 32 bytes")
		}
		if j.PublicKeyFile != "" {
			return invalid("jwt.public_key_file", "not used with HS256")
		}
	case JWTES256, JWTRS256, JWTEdDSA:
		if j.PublicKeyFile == "" {
			return invalid("jwt.public_key_file", "required for %s", j.Algorithm)
		}
		if j.Secret != "" {
			return invalid("jwt.secret", "not used with %s", j.Algorithm)
		}
	default:
		return invalid("jwt.algorithm", "%q is not one of HS256, ES256, RS256, EdDSA", j.Algorithm)
	}
	if j.Audience == "" {
		return invalid("jwt.audience", "required")
	}
	if j.Leeway < 0 || j.Leeway > 5*time.Minute {
		return invalid("jwt.leeway", "%v is outside [0, 5m]", j.Leeway)
	}
	return nil
}

// Rate is a token bucket: PerSecond on average, Burst at once.
type Rate struct {
	PerSecond float64 `yaml:"per_second"`
	Burst     int     `yaml:"burst"`
}

func (r Rate) validate(field string) error {
	switch {
	case r.PerSecond <= 0 || math.IsInf(r.PerSecond, 0) || math.IsNaN(r.PerSecond):
		return invalid(field+".per_second", "%v is not a positive rate", r.PerSecond)
	case r.Burst < 1:
		return invalid(field+".burst", "%d is below 1", r.Burst)
	}
	return nil
}

// RateLimitConfig configures the limits. Beyond them SIP requests get 503
// with Retry-After (never SIP 429, which means something else) and
// WebSocket upgrades get HTTP 429 with Retry-After.
type RateLimitConfig struct {
	RegisterPerSource  Rate `yaml:"register_per_source"`
	RegisterPerUser    Rate `yaml:"register_per_user"`
	InvitePerSource    Rate `yaml:"invite_per_source"`
	InvitePerUser      Rate `yaml:"invite_per_user"`
	WSUpgradePerSource Rate `yaml:"ws_upgrade_per_source"`
	// MaxCallsPerUser caps the calls one user is in at once (as caller or callee).
	MaxCallsPerUser int `yaml:"max_calls_per_user"`
	// MaxCalls caps the calls of the whole gateway.
	MaxCalls int `yaml:"max_calls"`
	// MaxTracked bounds how many sources or users each limiter remembers;
	// the least recently seen are forgotten first.
	MaxTracked int `yaml:"max_tracked"`
	// RetryAfter is what Retry-After says, rounded up to whole seconds.
	RetryAfter time.Duration `yaml:"retry_after"`
}

// DefaultRateLimitConfig allows each source and user far more than a phone
// or browser needs (a REGISTER with its challenge every few minutes, a few
// calls a minute) and stops floods from any one of them.
func DefaultRateLimitConfig() RateLimitConfig {
	return RateLimitConfig{
		RegisterPerSource:  Rate{PerSecond: 5, Burst: 20},
		RegisterPerUser:    Rate{PerSecond: 2, Burst: 10},
		InvitePerSource:    Rate{PerSecond: 5, Burst: 20},
		InvitePerUser:      Rate{PerSecond: 2, Burst: 10},
		WSUpgradePerSource: Rate{PerSecond: 5, Burst: 20},
		MaxCallsPerUser:    4,
		MaxCalls:           10000,
		MaxTracked:         100000,
		RetryAfter:         5 * time.Second,
	}
}

func (r RateLimitConfig) validate() error {
	for _, f := range []struct {
		name string
		r    Rate
	}{
		{"register_per_source", r.RegisterPerSource}, {"register_per_user", r.RegisterPerUser},
		{"invite_per_source", r.InvitePerSource}, {"invite_per_user", r.InvitePerUser},
		{"ws_upgrade_per_source", r.WSUpgradePerSource},
	} {
		if err := f.r.validate("rate_limit." + f.name); err != nil {
			return err
		}
	}
	switch {
	case r.MaxCallsPerUser < 1:
		return invalid("rate_limit.max_calls_per_user", "%d is below 1", r.MaxCallsPerUser)
	case r.MaxCalls < 1:
		return invalid("rate_limit.max_calls", "%d is below 1", r.MaxCalls)
	case r.MaxTracked < 16:
		return invalid("rate_limit.max_tracked", "%d is below 16", r.MaxTracked)
	case r.RetryAfter < time.Second:
		return invalid("rate_limit.retry_after", "%v is below 1s", r.RetryAfter)
	}
	return nil
}

// retryAfterSeconds is the Retry-After value.
func (r RateLimitConfig) retryAfterSeconds() int {
	return int((r.RetryAfter + time.Second - 1) / time.Second)
}

// TURNConfig configures the TURN REST credential endpoint (served on
// HTTPAddr at /turn-credentials): a user of the directory authenticates
// with HTTP Basic (their SIP password) and gets a time-limited username
// "<unix-expiry>:<user>" and password base64(HMAC-SHA1(Secret, username)).
type TURNConfig struct {
	// Secret is the shared secret with the TURN relay; empty disables the endpoint.
	Secret string `yaml:"secret"`
	// TTL is the lifetime of the credentials.
	TTL time.Duration `yaml:"ttl"`
	// URIs are the TURN URIs returned, e.g. "turn:127.0.0.1:3478?transport=udp".
	URIs []string `yaml:"uris"`
}

func (t TURNConfig) validate() error {
	if t.Secret == "" {
		return nil
	}
	switch {
	case len(t.Secret) < 16:
		return invalid("turn.secret", "needs at least 16 bytes")
	case t.TTL < time.Minute || t.TTL > 48*time.Hour:
		return invalid("turn.ttl", "%v is outside [1m, 48h]", t.TTL)
	case len(t.URIs) == 0:
		return invalid("turn.uris", "required with a secret")
	}
	for i, u := range t.URIs {
		if !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") && !strings.HasPrefix(u, "stun:") {
			return invalid(fmt.Sprintf("turn.uris[%d]", i), "%q is not a turn:, turns: or stun: URI", u)
		}
	}
	return nil
}
