package gateway

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// authenticator decides whether a REGISTER or INVITE from user may proceed.
// It returns nil to let the request through, or the response to send
// instead (a 401 challenge, a 403, a 400).
type authenticator interface {
	authenticate(req *sip.Request, user string) *sip.Response
}

// openAuth lets every request through (weaken: digest).
type openAuth struct{}

func (openAuth) authenticate(*sip.Request, string) *sip.Response { return nil }

// Why a digest answer was refused; logged and counted, never sent.
var (
	errNoCredentials = errors.New("no credentials for our realm")
	errBadNonce      = errors.New("nonce not ours")
	errStaleNonce    = errors.New("nonce expired")
	errReplay        = errors.New("nonce count replayed")
	errBadResponse   = errors.New("wrong digest response")
	errBadAlgorithm  = errors.New("algorithm not offered")
	errBadQOP        = errors.New("qop is not auth")
	errBadURI        = errors.New("digest uri is not the Request-URI")
	errLockedOut     = errors.New("locked out after wrong passwords")
)

// digestAuth is RFC 3261 22 digest with RFC 8760 algorithms, parsed and
// computed by github.com/icholy/digest. Nonces are stateless (issue time
// and randomness under an HMAC), so challenges cost no memory; the nonce
// counts of nonces that authenticated are kept until the nonces expire, so
// a replayed nc is refused. Users outside the directory are treated as
// users whose password nobody knows: challenged alike, their credentials
// checked against a random password (the same hashing, the same time) and
// refused as wrong. With a lockout set, wrong passwords lock users and
// sources out (LockoutConfig).
type digestAuth struct {
	realm      string
	algs       []string // offered, in order
	ttl        time.Duration
	now        func() time.Time
	passwords  func(user string) (string, bool)
	key        [32]byte
	nobodys    string   // the password checked for users outside the directory
	lock       *lockout // nil: no lockout
	retryAfter func(left time.Duration) int
	onRefuse   func(reason error)

	mu       sync.Mutex
	cur      map[string]int // nonce -> highest nc seen, this generation
	prev     map[string]int
	curStart time.Time
}

func newDigestAuth(realm string, algs []string, ttl time.Duration, now func() time.Time, passwords func(string) (string, bool)) *digestAuth {
	a := &digestAuth{
		realm: realm, algs: algs, ttl: ttl, now: now, passwords: passwords,
		cur: map[string]int{}, prev: map[string]int{}, curStart: now(),
		onRefuse:   func(error) {},
		nobodys:    rand.Text(),
		retryAfter: func(left time.Duration) int { return int((left + time.Second - 1) / time.Second) },
	}
	_, _ = rand.Read(a.key[:])
	return a
}

const (
	nonceRandom = 8
	nonceMAC    = 16
)

// nonce returns a fresh nonce: issue time, randomness, and their MAC.
func (a *digestAuth) nonce() string {
	var b [8 + nonceRandom + nonceMAC]byte
	binary.BigEndian.PutUint64(b[:8], uint64(a.now().UnixNano()))
	_, _ = rand.Read(b[8 : 8+nonceRandom])
	copy(b[8+nonceRandom:], a.mac(b[:8+nonceRandom]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (a *digestAuth) mac(b []byte) []byte {
	m := hmac.New(sha256.New, a.key[:])
	m.Write(b)
	m.Write([]byte(a.realm))
	return m.Sum(nil)[:nonceMAC]
}

// checkNonce verifies a nonce is ours and says whether it expired.
func (a *digestAuth) checkNonce(n string) (stale bool, err error) {
	b, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil || len(b) != 8+nonceRandom+nonceMAC {
		return false, errBadNonce
	}
	if !hmac.Equal(b[8+nonceRandom:], a.mac(b[:8+nonceRandom])) {
		return false, errBadNonce
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(b[:8])))
	age := a.now().Sub(issued)
	return age > a.ttl || age < -time.Minute, nil
}

// challenge is the 401 with one WWW-Authenticate per offered algorithm,
// SHA-256 first by default (RFC 8760 2.4), all with qop=auth and one nonce.
func (a *digestAuth) challenge(req *sip.Request, stale bool) *sip.Response {
	res := sip.NewResponseFromRequest(req, sip.StatusUnauthorized, "Unauthorized", nil)
	nonce := a.nonce()
	for _, alg := range a.algs {
		c := digest.Challenge{Realm: a.realm, Nonce: nonce, Algorithm: alg, QOP: []string{"auth"}, Stale: stale}
		res.AppendHeader(sip.NewHeader("WWW-Authenticate", c.String()))
	}
	return res
}

func (a *digestAuth) authenticate(req *sip.Request, user string) *sip.Response {
	creds, err := a.credentials(req)
	if err != nil {
		if !errors.Is(err, errNoCredentials) {
			a.onRefuse(err)
		}
		return a.challenge(req, false)
	}
	source := sourceIP(req)
	if a.lock != nil {
		if left := a.lock.locked(user, source, a.now()); left > 0 {
			a.onRefuse(fmt.Errorf("%w: user %q, source %s, %v left", errLockedOut, user, source, left.Round(time.Second)))
			res := sip.NewResponseFromRequest(req, sip.StatusServiceUnavailable, "Service Unavailable", nil)
			res.AppendHeader(sip.NewHeader("Retry-After", strconv.Itoa(a.retryAfter(left))))
			return res
		}
	}
	if creds.Username != user {
		a.onRefuse(fmt.Errorf("username %q for user %q", creds.Username, user))
		return sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden", nil)
	}
	stale, err := a.verify(req, creds)
	switch {
	case err != nil:
		if a.lock != nil && errors.Is(err, errBadResponse) {
			a.lock.fail(user, source, a.now())
		}
		a.onRefuse(err)
		return a.challenge(req, false)
	case stale:
		a.onRefuse(errStaleNonce)
		return a.challenge(req, true)
	}
	if err := a.count(creds.Nonce, creds.Nc); err != nil {
		a.onRefuse(err)
		return a.challenge(req, false)
	}
	if a.lock != nil {
		a.lock.succeed(user)
	}
	return nil
}

// credentials finds the Authorization for our realm.
func (a *digestAuth) credentials(req *sip.Request) (*digest.Credentials, error) {
	for _, h := range req.GetHeaders("Authorization") {
		c, err := digest.ParseCredentials(h.Value())
		if err != nil {
			continue
		}
		if c.Realm == a.realm {
			return c, nil
		}
	}
	return nil, errNoCredentials
}

// verify checks the credentials against the user's password; stale is set
// when they are right but the nonce has expired (RFC 7616 3.3).
func (a *digestAuth) verify(req *sip.Request, c *digest.Credentials) (stale bool, err error) {
	alg := c.Algorithm
	if alg == "" {
		alg = DigestMD5
	}
	offered := false
	for _, o := range a.algs {
		offered = offered || strings.EqualFold(o, alg)
	}
	switch {
	case !offered:
		return false, fmt.Errorf("%w: %q", errBadAlgorithm, c.Algorithm)
	case c.Userhash:
		return false, fmt.Errorf("%w: userhash", errBadAlgorithm)
	case c.QOP != "auth" || c.Nc < 1 || c.Cnonce == "":
		return false, errBadQOP
	case !sameURI(c.URI, req.Recipient):
		return false, fmt.Errorf("%w: %q", errBadURI, c.URI)
	}
	stale, err = a.checkNonce(c.Nonce)
	if err != nil {
		return false, err
	}
	password, ok := a.passwords(c.Username)
	if !ok {
		password = a.nobodys
	}
	if !digestMatches(c, string(req.Method), password) || !ok {
		return false, errBadResponse
	}
	return stale, nil
}

// digestMatches recomputes the response the credentials claim.
func digestMatches(c *digest.Credentials, method, password string) bool {
	want, err := digest.Digest(&digest.Challenge{
		Realm: c.Realm, Nonce: c.Nonce, Algorithm: c.Algorithm, Opaque: c.Opaque, QOP: []string{c.QOP},
	}, digest.Options{Method: method, URI: c.URI, Username: c.Username, Password: password, Count: c.Nc, Cnonce: c.Cnonce})
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.ToLower(want.Response)), []byte(strings.ToLower(c.Response))) == 1
}

func sameURI(raw string, ruri sip.Uri) bool {
	var u sip.Uri
	if err := sip.ParseUri(raw, &u); err != nil {
		return false
	}
	return strings.EqualFold(u.Scheme, ruri.Scheme) && u.User == ruri.User &&
		strings.EqualFold(u.Host, ruri.Host) && u.Port == ruri.Port
}

// count records nc for a nonce that authenticated and refuses one not
// above the last: a replayed request.
func (a *digestAuth) count(nonce string, nc int) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if now := a.now(); now.Sub(a.curStart) > a.ttl {
		// Nonces older than ttl are stale anyway; two generations of ttl
		// cover every nonce still fresh.
		a.prev, a.cur, a.curStart = a.cur, map[string]int{}, now
	}
	last, ok := a.cur[nonce]
	if !ok {
		last = a.prev[nonce]
	}
	if nc <= last {
		return fmt.Errorf("%w: nc %d after %d", errReplay, nc, last)
	}
	a.cur[nonce] = nc
	return nil
}
