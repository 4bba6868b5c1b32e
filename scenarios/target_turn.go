package scenarios

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/pion/stun/v4"
	"gopkg.in/yaml.v3"

	"github.com/gauntlet-rtc/gauntlet/agents/turnload"
)

// TURNTarget is the target's TURN relays and how agents get credentials:
//
//	turn:
//	  servers:
//	    - urls: ["turn:relay.example.com:3478?transport=udp", "turns:relay.example.com:5349"]
//	      tls_ca: |        # optional PEM the turns: certificate chains to
//	  insecure_tls: false  # accept a turns: certificate that does not verify
//	  loopback_peers: false  # the relay allows loopback peers on purpose (test deployments)
//	  credentials:
//	    rest: {secret_env: TURN_SECRET, ttl: 10m}   # TURN REST (HMAC-SHA1 shared secret), or
//	    static: {username: u, password_env: TURN_PASSWORD}   # or
//	    endpoint: {url: https://sbc.example.com/turn-credentials, auth: basic}
type TURNTarget struct {
	Servers     []TURNServer
	InsecureTLS bool
	REST        *TURNREST
	Static      *TURNStatic
	// Endpoint is the deployment's own credential URL, asked as a web app
	// asks it (see CredentialEndpoint).
	Endpoint *CredentialEndpoint
	// LoopbackPeers says the relay allows loopback peers on purpose (a
	// test deployment whose agents all live on loopback): attacks then
	// leave loopback out of the deny-list probes.
	LoopbackPeers bool
}

// TURNServer is one relay: its URIs (RFC 7065) and the CA its turns:
// listeners' certificates chain to, if not a public one.
type TURNServer struct {
	URLs  []string
	TLSCA string // PEM
}

// TURNREST mints time-limited credentials from a shared secret, the way
// coturn's use-auth-secret and the TURN REST draft define them.
type TURNREST struct {
	Secret    Secret
	SecretEnv string
	TTL       time.Duration
}

// TURNStatic is a long-term TURN user.
type TURNStatic struct {
	Username    string
	Password    Secret
	PasswordEnv string
}

// RoomsTarget is where the rooms service listens.
type RoomsTarget struct {
	URL string // http:// or https:// base URL
}

// defaultRESTTTL is the TURN REST credential lifetime when the file gives none.
const defaultRESTTTL = 10 * time.Minute

func (d *decoder) turn(n *yaml.Node, t *TURNTarget) {
	f := d.mapping(n, "turn", "servers", "insecure_tls", "credentials", "loopback_peers")
	if v, ok := f["loopback_peers"]; ok {
		t.LoopbackPeers, _ = d.boolean(v.val, "turn.loopback_peers")
	}
	if v, ok := f["servers"]; ok {
		items, _ := d.seq(v.val, "turn.servers")
		for i, item := range items {
			path := fmt.Sprintf("turn.servers[%d]", i)
			sf := d.mapping(item, path, "urls", "tls_ca")
			var s TURNServer
			if u, ok := sf["urls"]; ok {
				s.URLs, _ = d.strs(u.val, joinPath(path, "urls"))
			}
			if c, ok := sf["tls_ca"]; ok {
				s.TLSCA, _ = d.str(c.val, joinPath(path, "tls_ca"))
			}
			t.Servers = append(t.Servers, s)
		}
	}
	if v, ok := f["insecure_tls"]; ok {
		t.InsecureTLS, _ = d.boolean(v.val, "turn.insecure_tls")
	}
	if v, ok := f["credentials"]; ok {
		cf := d.mapping(v.val, "turn.credentials", "rest", "static", "endpoint")
		if e, ok := cf["endpoint"]; ok {
			t.Endpoint = d.credentialEndpoint(e.val, "turn.credentials.endpoint")
		}
		if r, ok := cf["rest"]; ok {
			rf := d.mapping(r.val, "turn.credentials.rest", "secret", "secret_env", "ttl")
			t.REST = &TURNREST{TTL: defaultRESTTTL}
			if s, ok := rf["secret"]; ok {
				t.REST.Secret = d.secret(s, "turn.credentials.rest.secret")
			}
			if s, ok := rf["secret_env"]; ok {
				t.REST.SecretEnv, _ = d.str(s.val, "turn.credentials.rest.secret_env")
			}
			if s, ok := rf["ttl"]; ok {
				t.REST.TTL, _ = d.duration(s.val, "turn.credentials.rest.ttl")
			}
		}
		if s, ok := cf["static"]; ok {
			sf := d.mapping(s.val, "turn.credentials.static", "username", "password", "password_env")
			t.Static = &TURNStatic{}
			if u, ok := sf["username"]; ok {
				t.Static.Username, _ = d.str(u.val, "turn.credentials.static.username")
			}
			if p, ok := sf["password"]; ok {
				t.Static.Password = d.secret(p, "turn.credentials.static.password")
			}
			if p, ok := sf["password_env"]; ok {
				t.Static.PasswordEnv, _ = d.str(p.val, "turn.credentials.static.password_env")
			}
		}
	}
}

// secret decodes a string that must never be echoed.
func (d *decoder) secret(f field, path string) Secret {
	if r := resolve(f.val); r.Kind == yaml.ScalarNode && r.ShortTag() == "!!str" {
		return Secret(r.Value)
	}
	d.errs.at(f.pos(), path, ErrType, "want a string (quote it); the value is not shown, it is a secret")
	return ""
}

func (d *decoder) rooms(n *yaml.Node, r *RoomsTarget) {
	f := d.mapping(n, "rooms", "url")
	if v, ok := f["url"]; ok {
		r.URL, _ = d.str(v.val, "rooms.url")
	}
}

func (v validator) turn(t *TURNTarget) {
	if len(t.Servers) == 0 {
		v.l.add("turn.servers", ErrRequired, "required: at least one server with its urls")
	}
	for i, s := range t.Servers {
		path := fmt.Sprintf("turn.servers[%d]", i)
		if len(s.URLs) == 0 {
			v.l.add(joinPath(path, "urls"), ErrRequired, "required: TURN URIs, e.g. turn:relay.example.com:3478?transport=udp")
		}
		for j, u := range s.URLs {
			if _, err := stun.ParseURI(u); err != nil {
				v.l.add(fmt.Sprintf("%s.urls[%d]", path, j), ErrSyntax, "bad URI %q: %v (want turn:, turns:, stun: or stuns:)", u, err)
			}
		}
		if s.TLSCA != "" && !x509.NewCertPool().AppendCertsFromPEM([]byte(s.TLSCA)) {
			v.l.add(joinPath(path, "tls_ca"), ErrSyntax, "no PEM certificate in it")
		}
	}
	given := 0
	for _, set := range []bool{t.REST != nil, t.Static != nil, t.Endpoint != nil} {
		if set {
			given++
		}
	}
	switch {
	case given == 0:
		v.l.add("turn.credentials", ErrRequired, "required: rest (a shared secret), static (a username and password) or endpoint (the deployment's credential URL)")
	case given > 1:
		v.l.add("turn.credentials", ErrConflict, "give one of rest, static and endpoint")
	case t.Endpoint != nil:
		v.credentialEndpoint("turn.credentials.endpoint", t.Endpoint)
	case t.REST != nil:
		v.secretSource("turn.credentials.rest.secret", "turn.credentials.rest.secret_env", t.REST.Secret, t.REST.SecretEnv)
		if t.REST.TTL < time.Minute || t.REST.TTL > 48*time.Hour {
			v.l.add("turn.credentials.rest.ttl", ErrRange, "must be 1m..48h, got %s", t.REST.TTL)
		}
	default:
		if t.Static.Username == "" {
			v.l.add("turn.credentials.static.username", ErrRequired, "required")
		}
		v.secretSource("turn.credentials.static.password", "turn.credentials.static.password_env", t.Static.Password, t.Static.PasswordEnv)
	}
}

// secretSource checks that a secret is given once, in the file or by an
// environment variable that is set.
func (v validator) secretSource(path, envPath string, s Secret, env string) {
	switch {
	case s != "" && env != "":
		v.l.add(envPath, ErrConflict, "give %s or %s, not both", lastPart(path), lastPart(envPath))
	case s == "" && env == "":
		v.l.add(path, ErrRequired, "required (or %s naming an environment variable)", lastPart(envPath))
	case env != "" && !envNamePattern.MatchString(env):
		v.l.add(envPath, ErrSyntax, "bad environment variable name %q", env)
	case env != "":
		if val, ok := os.LookupEnv(env); !ok || val == "" {
			v.l.add(envPath, ErrRequired, "environment variable %s is not set (or empty)", env)
		}
	}
}

func lastPart(path string) string { return path[strings.LastIndex(path, ".")+1:] }

func (v validator) rooms(r *RoomsTarget) {
	u, err := url.Parse(r.URL)
	switch {
	case r.URL == "":
		v.l.add("rooms.url", ErrRequired, "required: the rooms service's base URL, e.g. https://rooms.example.com/")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "":
		v.l.add("rooms.url", ErrSyntax, "bad URL: want http:// or https:// with a host")
	case u.User != nil:
		v.l.add("rooms.url", ErrConflict, "the URL holds credentials, which would end up in reports")
	}
}

// TURNCredentials returns a username and password for the virtual user
// named user, valid from now: minted from the REST secret, or the static
// user's. ok is false when the target has no TURN section or its
// credentials come from an endpoint (see TURNSource).
func (t *Target) TURNCredentials(user string, now time.Time) (username, password string, ok bool) {
	switch {
	case t.TURN == nil:
		return "", "", false
	case t.TURN.REST != nil:
		secret := lookupSecret(t.TURN.REST.Secret, t.TURN.REST.SecretEnv)
		username, password = turnload.RESTCredentials(secret, user, now.Add(t.TURN.REST.TTL))
		return username, password, true
	case t.TURN.Static != nil:
		return t.TURN.Static.Username, lookupSecret(t.TURN.Static.Password, t.TURN.Static.PasswordEnv), true
	}
	return "", "", false
}

// TURNURIs returns the target's ICE servers, TURN URIs with credentials
// for user, and the TLS configuration for turns: (nil without a turn
// section, or with a credential endpoint: see TURNSource). With stunOnly,
// only its stun: and stuns: URIs.
func (t *Target) TURNURIs(user string, now time.Time, stunOnly bool) ([]*stun.URI, *tls.Config, error) {
	username, password, ok := t.TURNCredentials(user, now)
	if !ok {
		return nil, nil, nil
	}
	uris, err := t.turnURIs(username, password, stunOnly)
	if err != nil {
		return nil, nil, err
	}
	return uris, t.TURNTLS(), nil
}

// turnURIs is the target's ICE servers, the TURN ones with username and
// password; with stunOnly, its stun: and stuns: URIs only.
func (t *Target) turnURIs(username, password string, stunOnly bool) ([]*stun.URI, error) {
	var uris []*stun.URI
	for _, s := range t.TURN.Servers {
		for _, raw := range s.URLs {
			u, err := stun.ParseURI(raw)
			if err != nil {
				return nil, fmt.Errorf("target %s: turn: %w", t.Name, err)
			}
			relay := isTURN(u)
			if relay && stunOnly {
				continue
			}
			if relay {
				u.Username, u.Password = username, password
			}
			uris = append(uris, u)
		}
	}
	return uris, nil
}

// TURNTLS is the TLS configuration for the target's turns: relays (nil
// without a turn section).
func (t *Target) TURNTLS() *tls.Config {
	if t.TURN == nil {
		return nil
	}
	pool := x509.NewCertPool()
	withCA := false
	for _, s := range t.TURN.Servers {
		if s.TLSCA != "" && pool.AppendCertsFromPEM([]byte(s.TLSCA)) {
			withCA = true
		}
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.TURN.InsecureTLS} //nolint:gosec // only when the target file says so
	if withCA {
		cfg.RootCAs = pool
	}
	return cfg
}

func isTURN(u *stun.URI) bool {
	return u.Scheme == stun.SchemeTypeTURN || u.Scheme == stun.SchemeTypeTURNS
}

// turnHosts lists the hosts the TURN URIs name.
func (t *Target) turnHosts() []string {
	if t.TURN == nil {
		return nil
	}
	var hosts []string
	for _, s := range t.TURN.Servers {
		for _, raw := range s.URLs {
			if u, err := stun.ParseURI(raw); err == nil && !slices.Contains(hosts, u.Host) {
				hosts = append(hosts, u.Host)
			}
		}
	}
	return hosts
}

// roomsHost is the rooms service's host, "" without one.
func (t *Target) roomsHost() string {
	if t.Rooms == nil {
		return ""
	}
	if u, err := url.Parse(t.Rooms.URL); err == nil {
		return u.Hostname()
	}
	return ""
}

// hostIsLoopback reports whether h is a loopback IP or "localhost".
func hostIsLoopback(h string) bool {
	if h == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.IsLoopback()
}

// splitHost returns the host of a host:port, or s itself.
func splitHost(s string) string {
	if h, _, err := net.SplitHostPort(s); err == nil {
		return h
	}
	return s
}
