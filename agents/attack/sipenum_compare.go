package attack

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// Timing tolerance: two classes' median answer times differ when they are
// apart by more than timingFloor and by more than timingShare of the
// faster one. On loopback a SIP answer takes a fraction of a millisecond,
// and scheduling noise on a busy machine moves medians of 30 interleaved
// probes by well under a millisecond; a password hash or a directory
// lookup done only for existing users costs more than that.
const (
	timingFloor = time.Millisecond
	timingShare = 0.5
	// answerRateGap: the classes differ in how often they were answered
	// when the counts are this far apart (and by a fifth of the probes).
	answerRateGap = 3
)

// field is one observable aspect of an answer.
type field struct{ name, value string }

// shapeFields are the header fields whose values are compared; the rest
// are compared by presence only (their values carry per-request data:
// tags, branches, Call-IDs, the probed user's name).
var shapeFields = []string{
	"accept", "allow", "content-length", "content-type", "min-expires", "retry-after",
	"server", "supported", "unsupported", "user-agent", "warning",
}

// shapeOf describes res field by field, leaving out what legitimately
// varies per request: nonce values (their length and alphabet are kept),
// tags, Call-IDs, branches.
func shapeOf(res *sip.Response) []field {
	out := []field{{"status", fmt.Sprintf("%d %s", res.StatusCode, res.Reason)}}
	counts := map[string]int{}
	for _, h := range res.Headers() {
		counts[strings.ToLower(h.Name())]++
	}
	names := make([]string, 0, len(counts))
	for n, c := range counts {
		if c > 1 {
			n = fmt.Sprintf("%s×%d", n, c)
		}
		names = append(names, n)
	}
	sort.Strings(names)
	out = append(out, field{"header fields", strings.Join(names, ", ")})
	for _, name := range shapeFields {
		var vals []string
		for _, h := range res.GetHeaders(name) {
			vals = append(vals, strings.TrimSpace(h.Value()))
		}
		if len(vals) > 0 {
			out = append(out, field{name, strings.Join(vals, " | ")})
		}
	}
	for _, name := range []string{"WWW-Authenticate", "Proxy-Authenticate"} {
		for i, h := range res.GetHeaders(name) {
			out = append(out, field{fmt.Sprintf("%s #%d", name, i+1), challengeShape(h.Value())})
		}
	}
	if to := res.To(); to != nil {
		out = append(out, field{"To tag", fmt.Sprint(to.Params.Has("tag"))})
	}
	return out
}

// challengeShape is a challenge without its nonce's value: scheme, realm,
// algorithm, qop, stale, opaque present, and the nonce's length (its
// alphabet is compared over a whole class of answers: nonceAlphabet).
func challengeShape(v string) string {
	c, err := digest.ParseChallenge(v)
	if err != nil {
		scheme, _, _ := strings.Cut(strings.TrimSpace(v), " ")
		return fmt.Sprintf("%s (not a digest challenge this agent reads)", scheme)
	}
	return fmt.Sprintf("Digest realm=%q algorithm=%s qop=%s stale=%v opaque=%v nonce of %d chars",
		c.Realm, c.Algorithm, strings.Join(c.QOP, ","), c.Stale, c.Opaque != "", len(c.Nonce))
}

// Nonce alphabets, smallest first.
var alphabets = []struct{ name, chars string }{
	{"hex", "0123456789abcdefABCDEF"},
	{"alphanumeric", "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"},
	{"base64url", "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_="},
	{"base64", "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/="},
}

// nonceAlphabet names the smallest alphabet holding every character of
// the nonces of the challenges in a class of answers ("" for none): one
// random nonce may lack a character its alphabet has, thirty do not.
func nonceAlphabet(ps []probe) string {
	seen := map[rune]bool{}
	for _, p := range ps {
		if p.final == nil {
			continue
		}
		for _, name := range []string{"WWW-Authenticate", "Proxy-Authenticate"} {
			for _, h := range p.final.GetHeaders(name) {
				if c, err := digest.ParseChallenge(h.Value()); err == nil {
					for _, r := range c.Nonce {
						seen[r] = true
					}
				}
			}
		}
	}
	if len(seen) == 0 {
		return ""
	}
	for _, a := range alphabets {
		all := true
		for r := range seen {
			all = all && strings.ContainsRune(a.chars, r)
		}
		if all {
			return a.name
		}
	}
	rs := make([]rune, 0, len(seen))
	for r := range seen {
		rs = append(rs, r)
	}
	slices.Sort(rs)
	return "other: " + string(rs)
}

// probe is one answer to a probe (final nil: no answer in time).
type probe struct {
	final  *sip.Response
	size   int
	rtt    time.Duration
	resent int
}

// compareProbes lists every way the answers for an existing user differ
// from those for a missing one, for method. Empty means no difference
// was seen.
func compareProbes(method string, existing, missing []probe) []string {
	var diffs []string
	ae, am := answered(existing), answered(missing)
	if gap := ae - am; (gap >= answerRateGap || -gap >= answerRateGap) && 5*abs(gap) >= max(len(existing), len(missing)) {
		diffs = append(diffs, fmt.Sprintf("%s answered: existing user %d of %d probes, missing user %d of %d", method, ae, len(existing), am, len(missing)))
	}
	if ae == 0 || am == 0 {
		return diffs
	}
	fe, fm := fieldValues(existing), fieldValues(missing)
	names := fieldNames(existing, missing)
	for _, name := range names {
		ve, ne := modal(fe[name])
		vm, nm := modal(fm[name])
		if ve == vm {
			continue
		}
		diffs = append(diffs, fmt.Sprintf("%s %s: existing user %s (%d of %d answers), missing user %s (%d of %d)",
			method, name, quoteOr(ve), ne, ae, quoteOr(vm), nm, am))
	}
	if ne, nm := nonceAlphabet(existing), nonceAlphabet(missing); ne != nm {
		diffs = append(diffs, fmt.Sprintf("%s nonce alphabet: existing user %s, missing user %s", method, quoteOr(ne), quoteOr(nm)))
	}
	se, sm := medianInt(sizes(existing)), medianInt(sizes(missing))
	if se != sm {
		diffs = append(diffs, fmt.Sprintf("%s answer size: existing user median %d bytes, missing user %d bytes (user names of equal length)", method, se, sm))
	}
	te, tm := rtts(existing), rtts(missing)
	if len(te) >= 5 && len(tm) >= 5 {
		me, mm := medianDur(te), medianDur(tm)
		if d := absDur(me - mm); d > timingFloor && float64(d) > timingShare*float64(min(me, mm)) {
			diffs = append(diffs, fmt.Sprintf("%s answer time: existing user median %s (p90 %s), missing user median %s (p90 %s) over %d and %d probes",
				method, fmtDur(me), fmtDur(quantileDur(te, 0.9)), fmtDur(mm), fmtDur(quantileDur(tm, 0.9)), len(te), len(tm)))
		}
	}
	return diffs
}

// timingLine summarizes both classes' answer times, for the evidence.
func timingLine(method string, existing, missing []probe) string {
	te, tm := rtts(existing), rtts(missing)
	if len(te) == 0 || len(tm) == 0 {
		return fmt.Sprintf("%s: %d and %d timed answers", method, len(te), len(tm))
	}
	return fmt.Sprintf("%s answer time: existing user median %s, missing user median %s (%d and %d probes, first-send answers only)",
		method, fmtDur(medianDur(te)), fmtDur(medianDur(tm)), len(te), len(tm))
}

func answered(ps []probe) int {
	n := 0
	for _, p := range ps {
		if p.final != nil {
			n++
		}
	}
	return n
}

// fieldValues maps each field name to its value in each answer ("" when
// an answer lacks the field).
func fieldValues(ps []probe) map[string][]string {
	out := map[string][]string{}
	var shapes [][]field
	names := map[string]bool{}
	for _, p := range ps {
		if p.final == nil {
			continue
		}
		s := shapeOf(p.final)
		shapes = append(shapes, s)
		for _, f := range s {
			names[f.name] = true
		}
	}
	for _, s := range shapes {
		have := map[string]string{}
		for _, f := range s {
			have[f.name] = f.value
		}
		for n := range names {
			out[n] = append(out[n], have[n])
		}
	}
	return out
}

// fieldNames are the fields seen in either class, in the order shapeOf
// gives them.
func fieldNames(classes ...[]probe) []string {
	var out []string
	for _, ps := range classes {
		for _, p := range ps {
			if p.final == nil {
				continue
			}
			for _, f := range shapeOf(p.final) {
				if !slices.Contains(out, f.name) {
					out = append(out, f.name)
				}
			}
		}
	}
	return out
}

// modal is the most frequent value (the first seen among equals) and
// how often it occurs; "" with 0 for none.
func modal(vs []string) (string, int) {
	counts := map[string]int{}
	best, n := "", 0
	for _, v := range vs {
		counts[v]++
		if counts[v] > n {
			best, n = v, counts[v]
		}
	}
	return best, n
}

func quoteOr(v string) string {
	if v == "" {
		return "(absent)"
	}
	return fmt.Sprintf("%q", v)
}

func sizes(ps []probe) []int {
	var out []int
	for _, p := range ps {
		if p.final != nil {
			out = append(out, p.size)
		}
	}
	return out
}

// rtts are the answer times of probes answered at the first send.
func rtts(ps []probe) []time.Duration {
	var out []time.Duration
	for _, p := range ps {
		if p.final != nil && p.resent == 0 {
			out = append(out, p.rtt)
		}
	}
	return out
}

func medianInt(v []int) int {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func medianDur(v []time.Duration) time.Duration { return quantileDur(v, 0.5) }

func quantileDur(v []time.Duration, q float64) time.Duration {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[min(int(q*float64(len(s))), len(s)-1)]
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func fmtDur(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}
