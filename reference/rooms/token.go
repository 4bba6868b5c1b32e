package rooms

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrToken wraps every refused room token.
var ErrToken = errors.New("rooms: room token refused")

// tokenLeeway is the clock skew tolerated on exp and nbf.
const tokenLeeway = 2 * time.Second

// tokens mints and checks room tokens with github.com/golang-jwt/jwt:
// HS256 pinned (so "none" and an RS256 key used as an HS256 secret fail),
// issuer, expiry and a jti required, audience = the room (unless
// token-audience is weakened), and a jti revoked on leave refused until
// the token would have expired anyway.
type tokens struct {
	secret      []byte
	issuer      string
	ttl         time.Duration
	anyAudience bool
	now         func() time.Time

	mu      sync.Mutex
	revoked map[string]time.Time // jti -> when it may be forgotten
}

// claims are a room token's claims: sub is the session (the participant
// ID others see), aud the room.
type claims = jwt.RegisteredClaims

func newTokens(secret []byte, issuer string, ttl time.Duration, anyAudience bool, now func() time.Time) *tokens {
	return &tokens{secret: secret, issuer: issuer, ttl: ttl, anyAudience: anyAudience, now: now, revoked: map[string]time.Time{}}
}

// mint returns a token for session in room and its expiry.
func (t *tokens) mint(room, session string) (string, time.Time, error) {
	now := t.now()
	exp := now.Add(t.ttl)
	c := claims{
		Issuer:    t.issuer,
		Subject:   session,
		Audience:  jwt.ClaimStrings{room},
		ExpiresAt: jwt.NewNumericDate(exp),
		NotBefore: jwt.NewNumericDate(now),
		IssuedAt:  jwt.NewNumericDate(now),
		ID:        randomHex(16),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("rooms: signing a token: %w", err)
	}
	return s, exp, nil
}

// verify checks raw for room and returns its claims. It always runs the
// whole check, so a bad token and a missing room take the same time.
func (t *tokens) verify(raw, room string) (*claims, error) {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(t.issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(tokenLeeway),
		jwt.WithTimeFunc(t.now),
	}
	if !t.anyAudience {
		opts = append(opts, jwt.WithAudience(room))
	}
	var c claims
	_, err := jwt.NewParser(opts...).ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return t.secret, nil })
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrToken, err)
	}
	if c.ID == "" || c.Subject == "" {
		return nil, fmt.Errorf("%w: no jti or sub", ErrToken)
	}
	if t.isRevoked(c.ID) {
		return nil, fmt.Errorf("%w: revoked (the session left)", ErrToken)
	}
	return &c, nil
}

// revoke refuses the token with this jti from now until it would expire.
func (t *tokens) revoke(jti string, exp time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.revoked[jti] = exp.Add(tokenLeeway)
}

func (t *tokens) isRevoked(jti string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.revoked[jti]
	return ok
}

// prune forgets revocations of tokens that have expired anyway.
func (t *tokens) prune(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for jti, until := range t.revoked {
		if now.After(until) {
			delete(t.revoked, jti)
		}
	}
}
