package attack

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Enumeration probes: enumProbes for an existing user and as many for a
// missing one, per method, interleaved (one of each per enumPace slot, the
// order alternating) so that both classes see the same load. The pace
// keeps one source and one user under a few requests a second, which no
// sane rate limit refuses.
const (
	enumProbes = 30
	enumPace   = 400 * time.Millisecond
)

const (
	fixUniform = "Answer every request for a user that does not exist exactly as for one that does: challenge it (401 with a fresh nonce, same realm, algorithms and headers), " +
		"refuse its credentials as a wrong password, and take the same time (hash a dummy password); apply per-user limits to every name."
	fixLockout = "Lock digest guessing out: after a few wrong passwords for one user, or many from one source, refuse further credentials for a while " +
		"without checking them (503 with Retry-After, or 403), so a right guess looks like a wrong one; log and alert on it."
)

// SIPEnumeration looks for two weaknesses over SIP UDP. User enumeration:
// REGISTER, INVITE and OPTIONS for an existing user and for a missing one
// must be answered alike (status, header fields, challenge realm and
// nonce shape, size, and answer time, medians compared with a tolerance).
// Digest guessing: wrong passwords must trip a lockout (per user and per
// source), which a later right password shows. Probes carry no
// credentials but those of the lockout checks; REGISTERs are queries (no
// Contact), so no binding is made or removed.
func SIPEnumeration(ctx context.Context, env *Env) Outcome {
	if env.SIP.UDP == "" {
		return Inconclusivef("sip-enumeration: the target file gives no SIP UDP address")
	}
	if len(env.SIP.Users) == 0 {
		return Inconclusivef("sip-enumeration: the target file names no user with a password to compare against")
	}
	capture, err := env.NewCapture("sip-enumeration")
	if err != nil {
		return Inconclusivef("sip-enumeration: %v", err)
	}
	defer func() { _ = capture.Close() }()

	known := env.SIP.Users[len(env.SIP.Users)-1]
	locked := env.SIP.Users[0]
	missing := missingName(known.User)
	methods := []sip.RequestMethod{sip.REGISTER, sip.INVITE, sip.OPTIONS}
	results := make([]methodProbes, len(methods))
	var lock lockoutFindings
	var wg sync.WaitGroup
	for i, m := range methods {
		wg.Go(func() { results[i] = probeMethod(ctx, env, capture, m, known.User, missing) })
	}
	if known != locked {
		wg.Go(func() { lock = checkLockout(ctx, env, capture, locked) })
		wg.Wait()
	} else {
		// One account: its per-user limits must not see probes and
		// guesses at once.
		wg.Wait()
		lock = checkLockout(ctx, env, capture, locked)
	}
	if err := ctx.Err(); err != nil {
		return Inconclusivef("sip-enumeration: stopped: %v", context.Cause(ctx))
	}
	out := judgeEnumeration(known.User, missing, results, lock)
	out.Capture = capture.Path()
	return out
}

// missingName returns a user name of the same length as known (so that
// answers echoing it have the same size) that no deployment is likely to
// have.
func missingName(known string) string {
	r := "zq" + strings.ToLower(rand.Text())
	for len(r) < len(known) {
		r += strings.ToLower(rand.Text())
	}
	if len(known) >= 3 {
		return r[:len(known)]
	}
	return r[:3]
}

// methodProbes are one method's probes.
type methodProbes struct {
	method            sip.RequestMethod
	existing, missing []probe
	err               error
}

// probeMethod sends enumProbes probes of method for each user, from one
// source, interleaved.
func probeMethod(ctx context.Context, env *Env, capture *Capture, method sip.RequestMethod, existing, missing string) methodProbes {
	out := methodProbes{method: method}
	p, err := openSIPPort(env, capture, 0)
	if err != nil {
		out.err = err
		return out
	}
	defer func() { _ = p.Close() }()
	tick := time.NewTicker(enumPace)
	defer tick.Stop()
	for i := range enumProbes {
		names := []string{existing, missing}
		if i%2 == 1 {
			names[0], names[1] = missing, existing
		}
		for _, name := range names {
			pr, err := p.probe(ctx, method, name)
			if err != nil {
				out.err = err
				return out
			}
			if name == existing {
				out.existing = append(out.existing, pr)
			} else {
				out.missing = append(out.missing, pr)
			}
		}
		select {
		case <-ctx.Done():
			out.err = ctx.Err()
			return out
		case <-tick.C:
		}
	}
	return out
}

// probe sends one unauthenticated request of method about user: a
// REGISTER query for the user's AOR, an INVITE from and to the user, or an
// OPTIONS to the user (svwar's three ways).
func (p *sipPort) probe(ctx context.Context, method sip.RequestMethod, user string) (probe, error) {
	ruri := p.uri(user)
	if method == sip.REGISTER {
		ruri = p.uri("")
	}
	req := p.request(method, ruri, user, user)
	if method == sip.INVITE {
		p.withOffer(req)
	}
	ans, err := p.exchange(ctx, req, sipTimeout)
	if errors.Is(err, errNoAnswer) {
		if method == sip.INVITE && len(ans.provisional) > 0 {
			p.cancel(req)
		}
		return probe{resent: ans.resent}, nil
	}
	if err != nil {
		return probe{}, err
	}
	return probe{final: ans.final, size: ans.size, rtt: ans.rtt, resent: ans.resent}, nil
}

// cancel sends a CANCEL for an INVITE that is still ringing (best effort:
// a probe must never leave a phone ringing).
func (p *sipPort) cancel(inv *sip.Request) {
	c := sip.NewRequest(sip.CANCEL, *inv.Recipient.Clone())
	c.AppendHeader(inv.Via().Clone())
	maxFwd := sip.MaxForwardsHeader(70)
	c.AppendHeader(&maxFwd)
	for _, name := range []string{"From", "To", "Call-ID"} {
		if h := inv.GetHeader(name); h != nil {
			c.AppendHeader(sip.NewHeader(name, h.Value()))
		}
	}
	c.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	c.SetBody(nil)
	_ = p.send([]byte(c.String()))
}

// judgeEnumeration turns the probes and lockout findings into the outcome.
func judgeEnumeration(existing, missing string, results []methodProbes, lock lockoutFindings) Outcome {
	out := Outcome{Verdict: Resisted}
	out.Evidence = append(out.Evidence, fmt.Sprintf("probes: existing user %q, missing user %q, %d of each per method, interleaved, over UDP without credentials", existing, missing, enumProbes))
	var diffs []string
	silent := 0
	for _, r := range results {
		if r.err != nil {
			out.Warnings = append(out.Warnings, fmt.Sprintf("%s probes stopped: %v", r.method, r.err))
		}
		if answered(r.existing)+answered(r.missing) == 0 {
			silent++
			out.Evidence = append(out.Evidence, fmt.Sprintf("%s: no answer to any probe", r.method))
			continue
		}
		out.Evidence = append(out.Evidence, fmt.Sprintf("%s: existing user answered %s; missing user answered %s",
			r.method, probeStatuses(r.existing), probeStatuses(r.missing)))
		out.Evidence = append(out.Evidence, timingLine(string(r.method), r.existing, r.missing))
		diffs = append(diffs, compareProbes(string(r.method), r.existing, r.missing)...)
	}
	out.Evidence = append(out.Evidence, lock.facts...)
	out.Warnings = append(out.Warnings, lock.warnings...)
	if silent == len(results) && lock.inconclusive != "" {
		return Inconclusivef("sip-enumeration: the target answered no probe and %s", lock.inconclusive)
	}
	if lock.inconclusive != "" {
		out.Warnings = append(out.Warnings, "lockout not checked: "+lock.inconclusive)
	}
	var reasons, fixes []string
	if len(diffs) > 0 {
		out.Verdict, out.Severity = Vulnerable, Medium
		out.Evidence = append(out.Evidence, diffs...)
		reasons = append(reasons, fmt.Sprintf("answers tell existing users from missing ones (%d differences)", len(diffs)))
		fixes = append(fixes, fixUniform)
	}
	if lock.unlocked != "" {
		out.Verdict, out.Severity = Vulnerable, High
		reasons = append(reasons, lock.unlocked)
		fixes = append(fixes, fixLockout)
	}
	if out.Verdict == Vulnerable {
		out.Reason = strings.Join(reasons, "; ")
		out.Remediation = strings.Join(fixes, " ")
		return out
	}
	out.Reason = "existing and missing users were answered alike on REGISTER, INVITE and OPTIONS"
	if lock.inconclusive == "" {
		out.Reason += ", and wrong passwords tripped a lockout"
	}
	return out
}

// probeStatuses is "401 Unauthorized ×30" for a class of probes.
func probeStatuses(ps []probe) string {
	m := map[string]int{}
	var order []string
	for _, p := range ps {
		s := statusText(p.final)
		if m[s] == 0 {
			order = append(order, s)
		}
		m[s]++
	}
	parts := make([]string, len(order))
	for i, s := range order {
		parts[i] = fmt.Sprintf("%s ×%d", s, m[s])
	}
	return strings.Join(parts, ", ")
}
