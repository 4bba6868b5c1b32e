package scenarios

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gauntlet-rtc/gauntlet/agents/socket"
)

const tokenTargetHead = `name: t
sip:
  ws: ws://127.0.0.1:5066/
users:
  webrtc:
    pattern: web{n}
    start: 1000
    password: pw
`

// Mistakes in a token or a credential endpoint name the line and field.
func TestBadTokenAndEndpoint(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       string
		is         error
	}{
		{"neither", "    token: {in: header}\n", `9:5: users.webrtc.token: required: env (a ready-made token) or mint`, ErrRequired},
		{"both", "    token: {env: X, mint: {alg: HS256, secret: s, audience: a}}\n", `9:5: users.webrtc.token: give env or mint, not both`, ErrConflict},
		{"in", "    token: {in: cookie, env: HOME}\n", `9:13: users.webrtc.token.in: "cookie": want header or query`, ErrUnknownName},
		{"alg", "    token: {mint: {alg: none, audience: a}}\n", `9:20: users.webrtc.token.mint.alg: "none": want HS256, ES256, RS256 or EdDSA`, ErrUnknownName},
		{"no audience", "    token: {mint: {alg: HS256, secret: s}}\n", `9:13: users.webrtc.token.mint.audience: required`, ErrRequired},
		{"secret for ES256", "    token: {mint: {alg: ES256, secret: s, audience: a}}\n", `users.webrtc.token.mint.secret: ES256 signs with key_file`, ErrConflict},
		{"ttl", "    token: {mint: {alg: HS256, secret: s, audience: a, ttl: 1s}}\n", `users.webrtc.token.mint.ttl: must be 10s..24h, got 1s`, ErrRange},
		{"endpoint url", "turn:\n  servers: [{urls: [\"turn:127.0.0.1:3478\"]}]\n  credentials: {endpoint: {url: \"ftp://x/\"}}\n",
			`11:28: turn.credentials.endpoint.url: bad URL: want http:// or https:// with a host`, ErrSyntax},
		{"endpoint auth", "turn:\n  servers: [{urls: [\"turn:127.0.0.1:3478\"]}]\n  credentials: {endpoint: {url: \"http://127.0.0.1/c\", auth: digest}}\n",
			`turn.credentials.endpoint.auth: "digest": want basic, bearer or none`, ErrUnknownName},
		{"two sources", "turn:\n  servers: [{urls: [\"turn:127.0.0.1:3478\"]}]\n  credentials: {endpoint: {url: \"http://127.0.0.1/c\"}, rest: {secret: s}}\n",
			`turn.credentials: give one of rest, static and endpoint`, ErrConflict},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseTarget("t.yaml", []byte(tokenTargetHead+c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v\nwant %s", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "t.yaml:") {
				t.Errorf("the error does not name the file: %v", err)
			}
			if !errors.Is(err, c.is) {
				t.Errorf("errors.Is(%v) is false: %v", c.is, err)
			}
		})
	}
}

// A minted token says who the user is, to whom and until when, signed as
// the file says; the target's printed forms never show the secret.
func TestMintedToken(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "signing.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, token string
		verifyKey   any
		inQuery     bool
	}{
		{"HS256", "    token: {mint: {alg: HS256, secret: \"s3cret-987654\", audience: sip-edge, issuer: idp, ttl: 2m}}\n", []byte("s3cret-987654"), false},
		{"ES256 in query", "    token: {in: query, mint: {alg: ES256, key_file: " + keyFile + ", audience: sip-edge, issuer: idp, ttl: 2m}}\n", &key.PublicKey, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg, err := ParseTarget("t.yaml", []byte(tokenTargetHead+tt.token))
			if err != nil {
				t.Fatal(err)
			}
			if s := tg.String(); strings.Contains(s, "987654") {
				t.Errorf("the target shows the secret:\n%s", s)
			}
			src, inQuery := tg.Token("browsers", KindWebRTC, "web1000")
			if src == nil || inQuery != tt.inQuery {
				t.Fatalf("Token: source %v, in query %v", src != nil, inQuery)
			}
			tok, err := src(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var claims jwt.RegisteredClaims
			p := jwt.NewParser(jwt.WithValidMethods([]string{tt.name[:5]}), jwt.WithAudience("sip-edge"), jwt.WithIssuer("idp"), jwt.WithExpirationRequired())
			if _, err := p.ParseWithClaims(tok, &claims, func(*jwt.Token) (any, error) { return tt.verifyKey, nil }); err != nil {
				t.Fatalf("the minted token does not verify: %v", err)
			}
			if life := claims.ExpiresAt.Sub(claims.IssuedAt.Time); claims.Subject != "web1000" || life != 2*time.Minute || claims.ID == "" {
				t.Errorf("claims %+v: want subject web1000, a 2m life and an ID", claims)
			}
		})
	}
}

// With a credential endpoint, each call's TURN servers carry what the
// endpoint granted, asked over the user's own socket layer with its SIP
// login, and asked again once half their lifetime is gone; with a REST
// secret they are minted for every call.
func TestTURNSourceFromEndpoint(t *testing.T) {
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "web1000" || p != "pw" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if !strings.HasPrefix(r.RemoteAddr, "127.0.44.1:") {
			w.WriteHeader(http.StatusForbidden) // not the virtual user's own source address
			return
		}
		n := asked.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"username":"grant` + string(rune('0'+n)) + `","password":"p","ttl":86400,"uris":[]}`))
	}))
	defer srv.Close()
	tg, err := ParseTarget("t.yaml", []byte(tokenTargetHead+"turn:\n  servers: [{urls: [\"stun:127.0.0.1:3478\", \"turn:127.0.0.1:3478?transport=udp\"]}]\n  credentials: {endpoint: {url: \""+srv.URL+"/turn-credentials\"}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := socket.New(socket.WithSourceIP(netip.MustParseAddr("127.0.44.1")))
	if err != nil {
		t.Fatal(err)
	}
	src, err := tg.TURNSource(TURNLogin{User: "web1000", Password: "pw"}, n, false)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		uris, err := src(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(uris) != 2 || uris[0].Username != "" || uris[1].Username != "grant1" || uris[1].Password != "p" {
			t.Fatalf("uris %v: want the stun: one bare and the turn: one with grant1", uris)
		}
	}
	if asked.Load() != 1 {
		t.Errorf("the endpoint was asked %d times for 3 calls within the grant's first half-life, want 1", asked.Load())
	}
	bad, err := tg.TURNSource(TURNLogin{User: "web1000", Password: "wrong"}, n, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad(context.Background()); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("a refused login: %v, want the endpoint's 401", err)
	}

	rest, err := ParseTarget("t.yaml", []byte(tokenTargetHead+"turn:\n  servers: [{urls: [\"turn:127.0.0.1:3478\"]}]\n  credentials: {rest: {secret: s, ttl: 10m}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	mint, err := rest.TURNSource(TURNLogin{User: "web1000"}, n, false)
	if err != nil {
		t.Fatal(err)
	}
	first, err := mint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	exp := strings.SplitN(first[0].Username, ":", 2)
	if len(exp) != 2 || exp[1] != "web1000" {
		t.Fatalf("REST username %q: want expiry:web1000", first[0].Username)
	}
}
