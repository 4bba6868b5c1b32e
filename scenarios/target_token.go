package scenarios

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"gopkg.in/yaml.v3"
)

// TokenSpec is how a users entry's virtual users get the bearer token a
// deployment wants on its SIP WebSocket upgrade (and its TURN credential
// endpoint): a ready-made token from the environment, or one minted per
// connection with a key the tester holds (a test deployment's):
//
//	token:
//	  in: header            # Authorization: Bearer (default), or query (?access_token=, as browsers send it)
//	  env: SBC_TOKEN        # a ready-made token, or
//	  mint: {alg: HS256, secret_env: JWT_SECRET, audience: sip-edge, issuer: idp, ttl: 5m}
//	  # alg ES256, RS256 or EdDSA sign with key_file: a PEM private key
type TokenSpec struct {
	InQuery bool
	Env     string
	Mint    *TokenMint
}

// TokenMint mints a JWT per connection: subject the virtual user's name,
// the audience and issuer given, expiring TTL after it is made.
type TokenMint struct {
	Alg       string
	Secret    Secret
	SecretEnv string
	KeyFile   string
	Audience  string
	Issuer    string
	TTL       time.Duration
}

// tokenView shows a TokenSpec with its secret redacted.
type tokenView struct {
	In   string         `yaml:"in" json:"in"`
	Env  string         `yaml:"env,omitempty" json:"env,omitempty"`
	Mint *tokenMintView `yaml:"mint,omitempty" json:"mint,omitempty"`
}

type tokenMintView struct {
	Alg       string `yaml:"alg" json:"alg"`
	Secret    Secret `yaml:"secret,omitempty" json:"secret,omitempty"`
	SecretEnv string `yaml:"secret_env,omitempty" json:"secret_env,omitempty"`
	KeyFile   string `yaml:"key_file,omitempty" json:"key_file,omitempty"`
	Audience  string `yaml:"audience" json:"audience"`
	Issuer    string `yaml:"issuer,omitempty" json:"issuer,omitempty"`
	TTL       string `yaml:"ttl" json:"ttl"`
}

func (t *TokenSpec) view() *tokenView {
	if t == nil {
		return nil
	}
	v := &tokenView{In: "header", Env: t.Env}
	if t.InQuery {
		v.In = "query"
	}
	if m := t.Mint; m != nil {
		v.Mint = &tokenMintView{Alg: m.Alg, Secret: m.Secret, SecretEnv: m.SecretEnv, KeyFile: m.KeyFile,
			Audience: m.Audience, Issuer: m.Issuer, TTL: m.TTL.String()}
	}
	return v
}

// defaultTokenTTL is a minted token's lifetime when the file gives none.
const defaultTokenTTL = 5 * time.Minute

var tokenAlgs = map[string]jwt.SigningMethod{
	"HS256": jwt.SigningMethodHS256, "ES256": jwt.SigningMethodES256,
	"RS256": jwt.SigningMethodRS256, "EdDSA": jwt.SigningMethodEdDSA,
}

func (d *decoder) token(n *yaml.Node, path string) *TokenSpec {
	f := d.mapping(n, path, "in", "env", "mint")
	t := &TokenSpec{}
	if v, ok := f["in"]; ok {
		p := joinPath(path, "in")
		if in, ok := d.str(v.val, p); ok {
			switch in {
			case "header":
			case "query":
				t.InQuery = true
			default:
				d.errs.at(v.pos(), p, ErrUnknownName, "%q: want header or query", in)
			}
		}
	}
	if v, ok := f["env"]; ok {
		t.Env, _ = d.str(v.val, joinPath(path, "env"))
	}
	if v, ok := f["mint"]; ok {
		p := joinPath(path, "mint")
		mf := d.mapping(v.val, p, "alg", "secret", "secret_env", "key_file", "audience", "issuer", "ttl")
		m := &TokenMint{TTL: defaultTokenTTL}
		for name, dst := range map[string]*string{"alg": &m.Alg, "secret_env": &m.SecretEnv, "key_file": &m.KeyFile, "audience": &m.Audience, "issuer": &m.Issuer} {
			if x, ok := mf[name]; ok {
				*dst, _ = d.str(x.val, joinPath(p, name))
			}
		}
		if x, ok := mf["secret"]; ok {
			m.Secret = d.secret(x, joinPath(p, "secret"))
		}
		if x, ok := mf["ttl"]; ok {
			m.TTL, _ = d.duration(x.val, joinPath(p, "ttl"))
		}
		t.Mint = m
	}
	return t
}

func (v validator) token(path string, t *TokenSpec) {
	switch {
	case t.Env == "" && t.Mint == nil:
		v.l.add(path, ErrRequired, "required: env (a ready-made token) or mint")
	case t.Env != "" && t.Mint != nil:
		v.l.add(path, ErrConflict, "give env or mint, not both")
	case t.Env != "":
		v.secretSource(joinPath(path, "token"), joinPath(path, "env"), "", t.Env)
	default:
		v.tokenMint(joinPath(path, "mint"), t.Mint)
	}
}

func (v validator) tokenMint(path string, m *TokenMint) {
	if _, ok := tokenAlgs[m.Alg]; !ok {
		v.l.add(joinPath(path, "alg"), ErrUnknownName, "%q: want HS256, ES256, RS256 or EdDSA", m.Alg)
		return
	}
	if m.Alg == "HS256" {
		if m.KeyFile != "" {
			v.l.add(joinPath(path, "key_file"), ErrConflict, "HS256 signs with secret or secret_env, not a key file")
		}
		v.secretSource(joinPath(path, "secret"), joinPath(path, "secret_env"), m.Secret, m.SecretEnv)
	} else {
		if m.Secret != "" || m.SecretEnv != "" {
			v.l.add(joinPath(path, "secret"), ErrConflict, "%s signs with key_file (a PEM private key), not a secret", m.Alg)
		}
		if m.KeyFile == "" {
			v.l.add(joinPath(path, "key_file"), ErrRequired, "required for %s: a PEM private key", m.Alg)
		} else if _, err := signingKey(m.Alg, m.KeyFile); err != nil {
			v.l.add(joinPath(path, "key_file"), ErrSyntax, "%v", err)
		}
	}
	if m.Audience == "" {
		v.l.add(joinPath(path, "audience"), ErrRequired, "required: the audience the deployment checks")
	}
	if m.TTL < 10*time.Second || m.TTL > 24*time.Hour {
		v.l.add(joinPath(path, "ttl"), ErrRange, "must be 10s..24h, got %s", m.TTL)
	}
}

// signingKey reads the PEM private key of an asymmetric alg.
func signingKey(alg, file string) (crypto.Signer, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM block", file)
	}
	var key any
	if key, err = x509.ParsePKCS8PrivateKey(blk.Bytes); err != nil {
		if key, err = x509.ParseECPrivateKey(blk.Bytes); err != nil {
			if key, err = x509.ParsePKCS1PrivateKey(blk.Bytes); err != nil {
				return nil, fmt.Errorf("%s: not a PKCS#8, EC or PKCS#1 private key", file)
			}
		}
	}
	s, ok := key.(crypto.Signer)
	if !ok || !keyFitsAlg(alg, s.Public()) {
		return nil, fmt.Errorf("%s: a %T does not sign %s", file, key, alg)
	}
	return s, nil
}

// ErrNoToken is returned when a token the target file names cannot be had.
var ErrNoToken = errors.New("no bearer token")

// Token returns the bearer token function of user, virtual user of
// population (of kind), and whether the token goes in the query; nil when
// its users entry names no token.
func (t *Target) Token(population string, kind Kind, user string) (func(context.Context) (string, error), bool) {
	u, _, ok := t.userEntry(population, kind)
	if !ok || u.Token == nil {
		return nil, false
	}
	spec := u.Token
	if spec.Env != "" {
		return func(context.Context) (string, error) {
			if tok := os.Getenv(spec.Env); tok != "" {
				return tok, nil
			}
			return "", fmt.Errorf("%w: environment variable %s is empty", ErrNoToken, spec.Env)
		}, spec.InQuery
	}
	m := spec.Mint
	return func(context.Context) (string, error) { return m.mint(user, time.Now()) }, spec.InQuery
}

// mint signs a token for user, valid from now for TTL.
func (m *TokenMint) mint(user string, now time.Time) (string, error) {
	claims := jwt.MapClaims{
		"sub": user, "aud": m.Audience, "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(m.TTL).Unix(), "jti": rand.Text(),
	}
	if m.Issuer != "" {
		claims["iss"] = m.Issuer
	}
	var key any
	if m.Alg == "HS256" {
		secret := m.Secret.Reveal()
		if m.SecretEnv != "" {
			secret = os.Getenv(m.SecretEnv)
		}
		key = []byte(secret)
	} else {
		s, err := signingKey(m.Alg, m.KeyFile)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrNoToken, err)
		}
		key = s
	}
	tok, err := jwt.NewWithClaims(tokenAlgs[m.Alg], claims).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("%w: signing %s: %w", ErrNoToken, m.Alg, err)
	}
	return tok, nil
}

func keyFitsAlg(alg string, pub crypto.PublicKey) bool {
	switch pub.(type) {
	case *ecdsa.PublicKey:
		return alg == "ES256"
	case *rsa.PublicKey:
		return alg == "RS256"
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}
