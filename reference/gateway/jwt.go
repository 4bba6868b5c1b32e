package gateway

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrToken wraps every refused bearer token.
var ErrToken = errors.New("gateway: bearer token refused")

// tokenVerifier checks the bearer tokens of WebSocket upgrades with
// github.com/golang-jwt/jwt: the algorithm pinned (so "none" and
// RS256-key-as-HS256-secret fail), audience and expiry required.
type tokenVerifier struct {
	parser *jwt.Parser
	key    any
}

func newTokenVerifier(c JWTConfig, now func() time.Time) (*tokenVerifier, error) {
	if !c.Enabled() {
		return nil, nil
	}
	var key any
	switch c.Algorithm {
	case JWTHS256:
		key = []byte(c.Secret)
	default:
		pub, err := readPublicKey(c.PublicKeyFile)
		if err != nil {
			return nil, invalid("auth.jwt.public_key_file", "%v", err)
		}
		if !keyFits(c.Algorithm, pub) {
			return nil, invalid("auth.jwt.public_key_file", "a %T key does not fit %s", pub, c.Algorithm)
		}
		key = pub
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{c.Algorithm}),
		jwt.WithAudience(c.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(c.Leeway),
		jwt.WithTimeFunc(now),
	}
	if c.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(c.Issuer))
	}
	return &tokenVerifier{parser: jwt.NewParser(opts...), key: key}, nil
}

func readPublicKey(path string) (crypto.PublicKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if cert, err := x509.ParseCertificate(block.Bytes); err == nil {
		return cert.PublicKey, nil
	}
	return x509.ParsePKIXPublicKey(block.Bytes)
}

func keyFits(alg string, key crypto.PublicKey) bool {
	switch key.(type) {
	case *ecdsa.PublicKey:
		return alg == JWTES256
	case *rsa.PublicKey:
		return alg == JWTRS256
	case ed25519.PublicKey:
		return alg == JWTEdDSA
	}
	return false
}

// verify returns the token's subject (empty when it has none).
func (v *tokenVerifier) verify(token string) (string, error) {
	var claims jwt.RegisteredClaims
	_, err := v.parser.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return v.key, nil })
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrToken, err)
	}
	return claims.Subject, nil
}

// bearer finds the token of an upgrade request: an Authorization header,
// else an access_token query parameter (browsers cannot set headers on a
// WebSocket).
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	return r.URL.Query().Get("access_token")
}
