package attack

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Digest guessing: lockGuesses wrong passwords for one user from one
// source must trip a lockout (fail2ban's Asterisk jail bans after 5; a SIP
// cracker such as svcrack makes thousands of guesses an hour), and
// lockSpray wrong passwords for as many different users from one source
// (password spraying) should trip a per-source one. Guesses are paced so
// that a rate limit of a few requests a second per source and per user
// does not refuse them; a 503 whose Retry-After is at most throttleWait is
// taken for such a throttle and waited out (at most throttleWaits times),
// a longer one or none for a lockout.
const (
	lockGuesses   = 10
	lockSpray     = 30
	guessPace     = 300 * time.Millisecond
	sprayPace     = 150 * time.Millisecond
	throttleWait  = 10 * time.Second
	throttleWaits = 2
)

// lockoutFindings is what the lockout checks saw.
type lockoutFindings struct {
	facts, warnings []string
	unlocked        string // why guessing was not stopped ("" when it was)
	inconclusive    string // why the checks could not run ("" when they did)
}

// guessOutcome is how the target took one guess.
type guessOutcome int

const (
	guessRefused   guessOutcome = iota // a wrong password, refused (401, 403)
	guessLocked                        // refused without a look (503 beyond a throttle)
	guessAccepted                      // 2xx
	guessUnhandled                     // anything else
)

// checkLockout runs the spray (one source, many users) and then the
// guessing (one user, one source) against the account, and tries the
// right password after each.
func checkLockout(ctx context.Context, env *Env, capture *Capture, account Credential) lockoutFindings {
	var f lockoutFindings
	spray, err := openSIPPort(env, capture, 0)
	if err != nil {
		f.inconclusive = err.Error()
		return f
	}
	defer func() { _ = spray.Close() }()
	res, err := spray.register(ctx, account.User, nil, "", 0)
	switch {
	case err != nil:
		f.inconclusive = fmt.Sprintf("a REGISTER for %s got no answer (%v)", account.User, err)
		return f
	case res.StatusCode != sip.StatusUnauthorized && res.StatusCode != sip.StatusProxyAuthRequired:
		f.inconclusive = fmt.Sprintf("a REGISTER for %s without credentials was answered %s, not challenged", account.User, statusText(res))
		return f
	}

	// Spray: one wrong password for each of lockSpray users, from one source.
	n, stop := guessAll(ctx, spray, res, lockSpray, sprayPace, func(int) (string, string) {
		return missingName(account.User + "xx"), wrongPassword()
	})
	right := spray.tryPassword(ctx, account)
	f.facts = append(f.facts, fmt.Sprintf("spray from %s: %d wrong passwords for %d different users %s; then the right password for %s from the same source: %s",
		spray.source(), n, n, stop, account.User, statusText(right)))
	sprayStopped := right == nil || !right.IsSuccess()
	if !sprayStopped {
		f.warnings = append(f.warnings, fmt.Sprintf("no per-source lockout: after %d wrong passwords for different users from one source, the right one for %s was still accepted from it (password spraying is not stopped)", n, account.User))
	}

	// Guessing: lockGuesses wrong passwords for the account, from one source.
	guesser, err := openSIPPort(env, capture, 0)
	if err != nil {
		f.inconclusive = err.Error()
		return f
	}
	defer func() { _ = guesser.Close() }()
	res, err = guesser.register(ctx, account.User, nil, "", 0)
	if err != nil || (res.StatusCode != sip.StatusUnauthorized && res.StatusCode != sip.StatusProxyAuthRequired) {
		f.inconclusive = fmt.Sprintf("a REGISTER for %s from a fresh source was answered %s, not challenged", account.User, statusText(res))
		return f
	}
	n, stop = guessAll(ctx, guesser, res, lockGuesses, guessPace, func(int) (string, string) {
		return account.User, wrongPassword()
	})
	other, err := openSIPPort(env, capture, 0)
	if err != nil {
		f.inconclusive = err.Error()
		return f
	}
	defer func() { _ = other.Close() }()
	fromOther := other.tryPassword(ctx, account)
	fromSame := guesser.tryPassword(ctx, account)
	f.facts = append(f.facts, fmt.Sprintf("guessing from %s: %d wrong passwords for %s %s; then the right password from another source (%s): %s; from the guessing source: %s",
		guesser.source(), n, account.User, stop, other.source(), statusText(fromOther), statusText(fromSame)))
	switch {
	case fromSame != nil && fromSame.IsSuccess():
		f.unlocked = fmt.Sprintf("after %d wrong passwords for %s from one source, the right password was accepted from the same source: digest guessing is never locked out", n, account.User)
	case fromOther != nil && fromOther.IsSuccess():
		f.warnings = append(f.warnings, fmt.Sprintf("no per-user lockout: after %d wrong passwords for %s, the right password was accepted from another source (guessing spread over many sources is not stopped)", n, account.User))
	}
	if ctx.Err() != nil {
		f.inconclusive = "stopped: " + ctx.Err().Error()
	}
	return f
}

// guessAll makes up to n guesses, each answering the challenge in the
// previous answer (so every guess has a fresh nonce), paced by pace, and
// returns how many were refused as wrong passwords and how the series
// ended.
func guessAll(ctx context.Context, p *sipPort, res *sip.Response, n int, pace time.Duration, guess func(i int) (user, password string)) (refused int, ended string) {
	tick := time.NewTicker(pace)
	defer tick.Stop()
	waits, nc := 0, 0
	for i := 0; i < n; i++ {
		user, password := guess(i)
		nc++
		next, err := p.register(ctx, user, res, password, nc)
		if err != nil {
			return refused, fmt.Sprintf("(guess %d got no answer: %v)", i+1, err)
		}
		switch classify(next) {
		case guessRefused:
			refused++
			if next.StatusCode == sip.StatusUnauthorized || next.StatusCode == sip.StatusProxyAuthRequired {
				res, nc = next, 0
			}
		case guessAccepted:
			return refused, fmt.Sprintf("(guess %d was accepted!)", i+1)
		case guessUnhandled:
			return refused, fmt.Sprintf("(guess %d answered %s)", i+1, statusText(next))
		case guessLocked:
			if ra, ok := retryAfter(next); ok && ra <= int(throttleWait/time.Second) && waits < throttleWaits {
				waits++
				if !sleep(ctx, time.Duration(ra)*time.Second) {
					return refused, "(stopped)"
				}
				i--
				continue
			}
			return refused, fmt.Sprintf("refused as wrong, then locked out at guess %d (%s%s)", i+1, statusText(next), retryAfterText(next))
		}
		select {
		case <-ctx.Done():
			return refused, "(stopped)"
		case <-tick.C:
		}
	}
	return refused, "all refused as wrong, none locked out"
}

func classify(res *sip.Response) guessOutcome {
	switch {
	case res.IsSuccess():
		return guessAccepted
	case res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired || res.StatusCode == sip.StatusForbidden:
		return guessRefused
	case res.StatusCode == sip.StatusServiceUnavailable:
		return guessLocked
	}
	return guessUnhandled
}

func retryAfterText(res *sip.Response) string {
	if ra, ok := retryAfter(res); ok {
		return fmt.Sprintf(", Retry-After %d", ra)
	}
	return ""
}

// register sends a REGISTER query for user (no Contact: nothing is bound
// or removed), with credentials answering chal's challenge when chal is
// set, and returns the final answer.
func (p *sipPort) register(ctx context.Context, user string, chal *sip.Response, password string, nc int) (*sip.Response, error) {
	req := p.request(sip.REGISTER, p.uri(""), user, user)
	if chal != nil {
		c, err := challengeOf(chal)
		if err != nil {
			return nil, err
		}
		if err := c.authorize(req, user, password, nc); err != nil {
			return nil, err
		}
	}
	ans, err := p.exchange(ctx, req, sipTimeout)
	if err != nil {
		return nil, err
	}
	return ans.final, nil
}

// tryPassword registers (a query) with the right password: challenge,
// then credentials, waiting out a short throttle once. It returns the
// final answer to the credentials (nil when there was none).
func (p *sipPort) tryPassword(ctx context.Context, account Credential) *sip.Response {
	for attempt := 0; ; attempt++ {
		res, err := p.register(ctx, account.User, nil, "", 0)
		if err == nil && (res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired) {
			res, err = p.register(ctx, account.User, res, account.Password, 1)
		}
		if err != nil {
			return nil
		}
		ra, ok := retryAfter(res)
		if res.StatusCode != sip.StatusServiceUnavailable || !ok || ra > int(throttleWait/time.Second) || attempt > 0 {
			return res
		}
		if !sleep(ctx, time.Duration(ra)*time.Second) {
			return res
		}
	}
}

func wrongPassword() string { return "wrong-" + strings.ToLower(rand.Text()[:12]) }

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
