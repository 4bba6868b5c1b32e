package attack

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pion/stun/v4"

	"github.com/gauntlet-rtc/gauntlet/agents/turnload"
)

// DefaultQuotaProbe is how many allocations for one user turn-abuse makes
// at most, when the env promises no quota, before it calls the quota
// missing.
const DefaultQuotaProbe = 20

// turnStepTimeout bounds one request and its retransmissions.
const turnStepTimeout = 3 * time.Second

// Remediations, one per defence.
const (
	turnFixUnauthenticated = "Require long-term credentials on every Allocate (RFC 8656 7.2, RFC 8489 9.2): answer 401 with REALM and NONCE; never run an open relay."
	turnFixExpired         = "Refuse TURN REST usernames whose expiry timestamp has passed (401), and keep credential lifetimes short."
	turnFixForged          = "Check the password as base64(HMAC-SHA1(secret, username)) over the whole username, expiry included, with the current and previous secret only."
	turnFixPeerDeny        = "Refuse relaying toward private, shared, link-local (169.254.169.254 cloud metadata), loopback, multicast, reserved, IPv4-mapped and NAT64 addresses: 403 to CreatePermission and ChannelBind (coturn: denied-peer-ip ranges and no-multicast-peers, without allow-loopback-peers)."
	turnFixQuota           = "Limit allocations per user (RFC 8656 7.2: 486 Allocation Quota Reached; coturn: user-quota)."
)

// TURNAbuse probes a TURN relay's defences against abuse (issue #8,
// CONFORMANCE.md): an Allocate without credentials must get 401; expired
// and edited TURN REST credentials must fail; CreatePermission and
// ChannelBind toward denied peers must be refused (requests only: no
// data is ever sent toward those addresses); one user's allocations must
// stop at a quota with 486; and a burst through the relay must be held to
// a bandwidth cap. Each defence is a sub-result in the evidence; the
// verdict is VULNERABLE when any failed.
func TURNAbuse(ctx context.Context, env *Env) Outcome {
	s, err := openTURNSession(ctx, env, "turn-abuse")
	if err != nil {
		return Inconclusivef("turn-abuse: %v", err)
	}
	unauth := s.unauthenticated(ctx)
	checks := []turnCheck{unauth}
	var cleanup []error
	if unauth.verdict != Inconclusive {
		// Each check's allocations go before the next, which may share the
		// user (static credentials) and so its quota.
		for _, check := range []func(context.Context) turnCheck{
			s.expiredCredentials, s.forgedCredentials, s.peerDeny, s.quota, s.bandwidthCap,
		} {
			mark := len(s.clients)
			checks = append(checks, check(ctx))
			cleanup = append(cleanup, s.release(mark))
		}
	}
	out := combineTURNChecks("turn-abuse", checks)
	if unauth.verdict == Inconclusive {
		out = Inconclusivef("turn-abuse: %s", unauth.summary)
		out.Evidence = unauth.facts
	}
	out.Evidence = append([]string{fmt.Sprintf("relay %s over UDP, from %s", s.server, s.net.SourceIP())}, out.Evidence...)
	if err := errors.Join(append(cleanup, s.close())...); err != nil {
		out.Warnings = append(out.Warnings, "cleanup: "+err.Error())
	}
	out.Capture = s.capture.Path()
	return out
}

// turnAnswer describes the response to a request in a few words.
func turnAnswer(err error) string {
	var se *turnload.StatusError
	switch {
	case err == nil:
		return "success"
	case errors.As(err, &se):
		return strings.TrimSpace(fmt.Sprintf("%d %s", se.Code, stunPrintable(se.Reason)))
	}
	return "no usable answer (" + err.Error() + ")"
}

// unauthenticated sends an Allocate without credentials.
func (s *turnSession) unauthenticated(ctx context.Context) turnCheck {
	c := turnCheck{name: "unauthenticated"}
	cl, err := s.dial(ctx, "", "", nil)
	if err != nil {
		c.inconclusive("could not open a client: %v", err)
		return c
	}
	m, err := stun.Build(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassRequest),
		turnload.RequestedTransport(turnload.ProtoUDP), stun.Fingerprint)
	if err != nil {
		c.inconclusive("build: %v", err)
		return c
	}
	tctx, cancel := context.WithTimeout(ctx, turnStepTimeout)
	defer cancel()
	r, err := cl.Transact(tctx, m)
	switch {
	case err != nil && ctx.Err() != nil:
		c.inconclusive("stopped before the relay answered: %v", ctx.Err())
		return c
	case err != nil:
		c.inconclusive("the relay never answered an Allocate without credentials (%v)", err)
		return c
	}
	if r.Type.Class == stun.ClassSuccessResponse {
		var relayed stun.XORMappedAddress
		_ = relayed.GetFromAs(r, stun.AttrXORRelayedAddress) // shown as it decoded
		c.fact("Allocate without MESSAGE-INTEGRITY: success, relayed address %s:%d", relayed.IP, relayed.Port)
		c.vulnerable(High, turnFixUnauthenticated, "an Allocate without credentials got a relay (an open relay)")
		s.deleteUnauthenticated(ctx, cl)
		return c
	}
	var ec stun.ErrorCodeAttribute
	var realm stun.Realm
	var nonce stun.Nonce
	_ = ec.GetFrom(r)
	hasRealm, hasNonce := realm.GetFrom(r) == nil, nonce.GetFrom(r) == nil
	c.fact("Allocate without MESSAGE-INTEGRITY: %s (REALM %v, NONCE %v)", strings.TrimSpace(fmt.Sprintf("%d %s", ec.Code, stunPrintable(string(ec.Reason)))), hasRealm, hasNonce)
	if ec.Code != stun.CodeUnauthorized || !hasRealm || !hasNonce {
		c.warn("RFC 8489 9.2.4 asks for 401 with REALM and NONCE; the relay answered %d (REALM %v, NONCE %v)", ec.Code, hasRealm, hasNonce)
	}
	c.resisted("an Allocate without credentials was refused (%d), no relayed address given", ec.Code)
	return c
}

// deleteUnauthenticated deletes an open relay's allocation with an
// unauthenticated Refresh of lifetime 0 (best effort: it expires anyway).
func (s *turnSession) deleteUnauthenticated(ctx context.Context, cl *turnload.Client) {
	m, err := stun.Build(stun.TransactionID, stun.NewType(stun.MethodRefresh, stun.ClassRequest), turnload.Lifetime(0), stun.Fingerprint)
	if err != nil {
		return
	}
	tctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, _ = cl.Transact(tctx, m) // the allocation expires if this fails
}

// credentialAttempt allocates with username and password and records the
// outcome; it reports whether the relay granted an allocation, and false
// with answered unset when it never answered.
func (s *turnSession) credentialAttempt(ctx context.Context, c *turnCheck, what, username, password string) (granted, answered bool) {
	cl, err := s.dial(ctx, username, password, nil)
	if err != nil {
		c.fact("%s: could not open a client: %v", what, err)
		return false, false
	}
	tctx, cancel := context.WithTimeout(ctx, turnStepTimeout)
	defer cancel()
	a, err := s.allocate(tctx, cl)
	switch {
	case err == nil:
		c.fact("%s (username %q): Allocate success, relayed address %s", what, username, a.Relayed)
		return true, true
	case turnload.Code(err) != 0:
		c.fact("%s (username %q): Allocate %s", what, username, turnAnswer(err))
		if turnload.Code(err) != int(stun.CodeUnauthorized) {
			c.warn("%s: RFC 8489 9.2.4 asks for 401, the relay answered %s", what, turnAnswer(err))
		}
		return false, true
	}
	c.fact("%s (username %q): %s", what, username, turnAnswer(err))
	return false, false
}

// expiredCredentials allocates with TURN REST credentials that expired an
// hour ago, correctly signed.
func (s *turnSession) expiredCredentials(ctx context.Context) turnCheck {
	c := turnCheck{name: "expired-credentials"}
	if !s.env.TURN.rest() {
		c.inconclusive("the target gives a static TURN user, no REST secret: expired credentials not tried")
		return c
	}
	u, p := turnload.RESTCredentials(s.env.TURN.RESTSecret, s.user+"-expired", time.Now().Add(-time.Hour))
	granted, answered := s.credentialAttempt(ctx, &c, "expired an hour ago", u, p)
	switch {
	case granted:
		c.vulnerable(High, turnFixExpired, "TURN REST credentials an hour past their expiry got an allocation")
	case answered:
		c.resisted("TURN REST credentials past their expiry were refused")
	default:
		c.inconclusive("the relay never answered the Allocate with expired credentials")
	}
	return c
}

// forgedCredentials allocates with valid TURN REST credentials edited
// without the secret: the expiry pushed a year on, the user part changed
// (the password kept), and a password from another secret.
func (s *turnSession) forgedCredentials(ctx context.Context) turnCheck {
	c := turnCheck{name: "forged-credentials"}
	if !s.env.TURN.rest() {
		c.inconclusive("the target gives a static TURN user, no REST secret: edited credentials not tried")
		return c
	}
	expiry := time.Now().Add(time.Hour)
	user := s.user + "-forged"
	u, p := turnload.RESTCredentials(s.env.TURN.RESTSecret, user, expiry)
	attempts := []struct{ what, username, password string }{
		{"expiry pushed a year on, password kept", strconv.FormatInt(expiry.AddDate(1, 0, 0).Unix(), 10) + ":" + user, p},
		{"user part changed, password kept", strconv.FormatInt(expiry.Unix(), 10) + ":" + user + "-admin", p},
		{"signed with another secret", u, turnload.RESTPassword("not-the-secret-"+turnRunID(), u)},
	}
	var granted []string
	answered := 0
	for _, a := range attempts {
		g, ok := s.credentialAttempt(ctx, &c, a.what, a.username, a.password)
		if g {
			granted = append(granted, a.what)
		}
		if ok {
			answered++
		}
	}
	switch {
	case len(granted) > 0:
		c.vulnerable(High, turnFixForged, "edited TURN REST credentials got an allocation: %s", strings.Join(granted, "; "))
	case answered == len(attempts):
		c.resisted("all %d edited TURN REST credentials were refused", len(attempts))
	default:
		c.inconclusive("the relay answered %d of %d Allocates with edited credentials", answered, len(attempts))
	}
	return c
}

// quota allocates for one user, each allocation on its own 5-tuple, until
// the relay answers 486 or the probe bound is passed.
func (s *turnSession) quota(ctx context.Context) turnCheck {
	c := turnCheck{name: "quota"}
	limit := DefaultQuotaProbe
	if q := s.env.TURN.AllocationQuota; q > 0 {
		limit = q
		c.fact("the deployment promises %d allocations per user", q)
	}
	username, password := s.env.TURN.credentials(s.user + "-quota")
	for i := 1; i <= limit+1; i++ {
		cl, err := s.dial(ctx, username, password, nil)
		if err != nil {
			c.inconclusive("could not open client %d: %v", i, err)
			return c
		}
		tctx, cancel := context.WithTimeout(ctx, turnStepTimeout)
		_, err = s.allocate(tctx, cl)
		cancel()
		switch code := turnload.Code(err); {
		case err == nil:
			continue
		case code == int(stun.CodeAllocQuotaReached):
			c.fact("allocations 1-%d for user %q: success; allocation %d: %s", i-1, username, i, turnAnswer(err))
			if q := s.env.TURN.AllocationQuota; q > 0 && i-1 < q {
				c.warn("the relay stopped at %d allocations, below the %d promised", i-1, q)
			}
			c.resisted("the relay refused allocation %d for one user with 486", i)
			return c
		case i == 1:
			c.inconclusive("the first allocation already failed: %s", turnAnswer(err))
			return c
		default:
			c.fact("allocations 1-%d for user %q: success; allocation %d: %s", i-1, username, i, turnAnswer(err))
			c.inconclusive("allocation %d got %s, not 486", i, turnAnswer(err))
			return c
		}
	}
	c.fact("allocations 1-%d for user %q, each from its own 5-tuple: all success", limit+1, username)
	c.vulnerable(Medium, turnFixQuota, "%d allocations for one user, none refused with 486", limit+1)
	return c
}
