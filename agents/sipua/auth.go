package sipua

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// maxAuthRounds bounds how many challenges one request answers (a first
// one, then stale=true renewals).
const maxAuthRounds = 3

// authState carries one request's digest exchange across its retries.
type authState struct {
	rounds   int
	answered map[string]bool       // challenge header + realm already answered
	creds    map[string]sip.Header // credentials header + realm
}

// algRank orders the digest algorithms RFC 8760 defines for SIP, weakest
// first; 0 is one we cannot compute (including the -sess variants).
func algRank(alg string) int {
	switch strings.ToUpper(alg) {
	case "", "MD5":
		return 1
	case "SHA-256":
		return 2
	case "SHA-512-256":
		return 3
	}
	return 0
}

// pickChallenges returns, per realm, the strongest challenge we can answer
// among the header values: SHA-256 wins over MD5 whatever the order (RFC
// 8760 §2.4 lets local policy choose; ours is never the weaker).
func pickChallenges(values []string) []*digest.Challenge {
	best := map[string]*digest.Challenge{}
	var realms []string
	for _, v := range values {
		if !digest.IsDigest(v) {
			continue
		}
		c, err := digest.ParseChallenge(v)
		if err != nil {
			continue
		}
		for i, q := range c.QOP {
			c.QOP[i] = strings.TrimSpace(q)
		}
		if algRank(c.Algorithm) == 0 || !digest.CanDigest(c) {
			continue
		}
		prev, seen := best[c.Realm]
		if !seen {
			realms = append(realms, c.Realm)
		}
		if !seen || algRank(c.Algorithm) > algRank(prev.Algorithm) {
			best[c.Realm] = c
		}
	}
	out := make([]*digest.Challenge, 0, len(realms))
	for _, r := range realms {
		out = append(out, best[r])
	}
	return out
}

// authorize answers a 401 or 407 to req. It returns every credentials
// header the retry must carry; ok is false when the response is not one to
// answer (not a challenge, no password, credentials already refused), so
// the caller reports the status itself.
func (u *UA) authorize(st *authState, req *sip.Request, res *sip.Response) (hdrs []sip.Header, ok bool, err error) {
	var challengeName, credName string
	switch res.StatusCode {
	case 401:
		challengeName, credName = "WWW-Authenticate", "Authorization"
	case 407:
		challengeName, credName = "Proxy-Authenticate", "Proxy-Authorization"
	default:
		return nil, false, nil
	}
	if u.cfg.Password == "" || st.rounds >= maxAuthRounds {
		return nil, false, nil
	}
	st.rounds++
	var values []string
	for _, h := range res.GetHeaders(challengeName) {
		values = append(values, h.Value())
	}
	chals := pickChallenges(values)
	if len(chals) == 0 {
		return nil, false, fmt.Errorf("%w: %d %s with no Digest challenge we support (%q)", ErrAuth, res.StatusCode, res.Reason, values)
	}
	if st.answered == nil {
		st.answered = map[string]bool{}
		st.creds = map[string]sip.Header{}
	}
	for _, c := range chals {
		if st.answered[challengeName+c.Realm] && !c.Stale {
			return nil, false, nil // the credentials were refused
		}
		u.mu.Lock()
		prev := u.realmAlg[c.Realm]
		if r := algRank(c.Algorithm); r >= prev {
			u.realmAlg[c.Realm] = r
		}
		u.mu.Unlock()
		if algRank(c.Algorithm) < prev {
			return nil, false, fmt.Errorf("%w: realm %q offered only %q", ErrDowngrade, c.Realm, c.Algorithm)
		}
		body := req.Body()
		cred, err := digest.Digest(c, digest.Options{
			Method:   string(req.Method),
			URI:      req.Recipient.String(),
			Username: u.cfg.authUser(),
			Password: u.cfg.Password,
			GetBody:  func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil },
		})
		if err != nil {
			return nil, false, fmt.Errorf("%w: %w", ErrAuth, err)
		}
		st.answered[challengeName+c.Realm] = true
		st.creds[credName+"\x00"+c.Realm] = sip.NewHeader(credName, cred.String())
	}
	for _, k := range slices.Sorted(maps.Keys(st.creds)) {
		hdrs = append(hdrs, st.creds[k])
	}
	return hdrs, true, nil
}
