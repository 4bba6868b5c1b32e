package attack

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/reports"
)

// The flood: floodSources sources each send floodPerSource requests (half
// REGISTER, half INVITE) evenly over floodSpan, 25 requests a second per
// source, 500 in all: a thousand times what a phone sends (a REGISTER and
// its challenge every few minutes), and bounded at 2,000 requests.
const (
	floodSources   = 20
	floodPerSource = 100
	floodSpan      = 4 * time.Second
	floodDrain     = 1500 * time.Millisecond // answers still counted after the last request
)

// Legitimate calls during the flood: legitPairs caller/callee pairs (a
// browser calling a phone, each on its own source and account) each start
// a call every legitEvery while the flood runs (a busy caller: an INVITE
// and its challenge every two seconds). Their sources and accounts are
// not the flood's, so a defence keyed on source and user sheds the flood
// without touching them and every call should connect. legitMinSuccess
// leaves room for one call in three failing for reasons a loaded test
// machine causes on its own; below it the flood denied service.
const (
	legitPairs      = 2
	legitHold       = 300 * time.Millisecond
	legitEvery      = 2 * time.Second
	legitMinSuccess = 2.0 / 3
)

const (
	fix429         = "Answer overload with 503 Service Unavailable and Retry-After (RFC 3261 21.5.4); SIP 429 means Provide Referrer Identity (RFC 3892)."
	fixUnthrottled = "Rate-limit REGISTER and INVITE per source address and per user (e.g. Kamailio pike/ratelimit, Asterisk + fail2ban, an SBC's admission control) and answer beyond the limit 503 with Retry-After (RFC 3261 21.5.4)."
	fixLegit       = "Shed floods per source and per user before they reach call processing, and keep capacity for sources and users that stay within their limits."
)

// SIPFlood floods the target's SIP UDP port with REGISTER and INVITE from
// many sources while legitimate browsers call phones, and judges the
// target by what it answered (RFC 3261 21.5.4: 503 with Retry-After
// beyond its limits; RFC 3892: SIP 429 is not an overload answer) and by
// how many legitimate calls connected meanwhile.
func SIPFlood(ctx context.Context, env *Env) Outcome {
	if env.SIP.UDP == "" {
		return Inconclusivef("sip-flood: the target file gives no SIP UDP address")
	}
	if env.Endpoint == nil {
		return Inconclusivef("sip-flood: the environment cannot bring up legitimate users")
	}
	capture, err := env.NewCapture("sip-flood")
	if err != nil {
		return Inconclusivef("sip-flood: %v", err)
	}
	defer func() { _ = capture.Close() }()

	pairs, closeLegit, err := legitUsers(ctx, env)
	defer closeLegit()
	if err != nil {
		return Inconclusivef("sip-flood: legitimate users: %v", err)
	}
	base := placeLegit(ctx, pairs[0], "sip-flood-baseline")
	if base.Outcome != reports.OutcomeOK {
		return Inconclusivef("sip-flood: a legitimate call failed before any flood (%s: %s)", base.Cause, base.Error)
	}

	victim := "gauntlet-flood"
	if len(env.SIP.Users) > 0 {
		victim = env.SIP.Users[0].User
	}
	flooders := make([]*flooder, 0, floodSources)
	defer func() {
		for _, f := range flooders {
			_ = f.port.Close()
		}
	}()
	for range floodSources {
		p, err := openSIPPort(env, capture, 0)
		if err != nil {
			return Inconclusivef("sip-flood: %v", err)
		}
		flooders = append(flooders, newFlooder(p, victim))
	}

	sending := make(chan struct{})
	legitDone := callDuring(ctx, pairs, sending)
	start := time.Now()
	var floods sync.WaitGroup
	for _, f := range flooders {
		floods.Go(func() { f.run(ctx, start) })
	}
	floods.Wait()
	sent := time.Since(start)
	close(sending)
	legit := legitDone()
	drain := time.NewTimer(floodDrain)
	select {
	case <-drain.C:
	case <-ctx.Done():
		drain.Stop()
	}
	for _, f := range flooders {
		_ = f.port.Close()
		f.wait()
	}
	if err := ctx.Err(); err != nil {
		return Inconclusivef("sip-flood: stopped: %v", context.Cause(ctx))
	}
	out := judgeFlood(merge(flooders), legit, victim, sent)
	out.Capture = capture.Path()
	return out
}

// legitPair is a browser that calls a phone.
type legitPair struct{ caller, callee *endpoint.Endpoint }

// legitUsers brings up and registers legitPairs browser/phone pairs; the
// returned func closes them (also after an error).
func legitUsers(ctx context.Context, env *Env) ([]legitPair, func(), error) {
	var eps []*endpoint.Endpoint
	closeAll := func() {
		for _, ep := range eps {
			_ = ep.Close()
		}
	}
	var pairs []legitPair
	for range legitPairs {
		var pair [2]*endpoint.Endpoint
		for i, kind := range []string{endpoint.KindWebRTC, endpoint.KindSIP} {
			ep, err := env.Endpoint(ctx, kind)
			if err != nil {
				return nil, closeAll, fmt.Errorf("%s user: %w", kind, err)
			}
			eps = append(eps, ep)
			if reg := ep.Register(ctx); reg.Outcome != reports.OutcomeOK {
				return nil, closeAll, fmt.Errorf("REGISTER %s: %d %s", ep.User(), reg.SIPStatus, reg.Error)
			}
			pair[i] = ep
		}
		pairs = append(pairs, legitPair{caller: pair[0], callee: pair[1]})
	}
	return pairs, closeAll, nil
}

// callDuring has each pair start a call every legitEvery until sending
// is closed; the returned func waits for the calls in progress and
// returns every call's record.
func callDuring(ctx context.Context, pairs []legitPair, sending <-chan struct{}) func() []reports.Result {
	var mu sync.Mutex
	var results []reports.Result
	var calls sync.WaitGroup
	for i, pair := range pairs {
		calls.Go(func() {
			every := time.NewTicker(legitEvery)
			defer every.Stop()
			for n := 0; ; n++ {
				r := placeLegit(ctx, pair, fmt.Sprintf("sip-flood-%d-%d", i, n))
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
				select {
				case <-sending:
					return
				case <-ctx.Done():
					return
				case <-every.C:
				}
			}
		})
	}
	return func() []reports.Result {
		calls.Wait()
		return results
	}
}

func placeLegit(ctx context.Context, p legitPair, id string) reports.Result {
	return endpoint.PlaceCall(ctx, p.caller, p.callee, endpoint.CallSpec{ID: id, Hold: legitHold})
}

// floodCounts is what one method's flood got back.
type floodCounts struct {
	sent, answered      int
	s503, retryAfter    int
	s429                int
	statuses            map[int]int
	firstThrottle       time.Duration // from the flood's start to the first 503 (0: none)
	firstThrottleAfterN int           // requests of this method sent before it
}

// flooder is one source of the flood: it sends alternately REGISTER (for
// the victim, no credentials) and INVITE (from the victim to a user that
// does not exist, so that no phone could ever ring), and counts the first
// final answer to each.
type flooder struct {
	port   *sipPort
	victim string
	callee string

	mu      sync.Mutex
	pending map[string]*sip.Request // by Call-ID, until answered
	invites map[string]*sip.Request // by Call-ID, to acknowledge retransmitted answers too
	counts  map[sip.RequestMethod]*floodCounts
	start   time.Time
	reader  sync.WaitGroup
}

func newFlooder(p *sipPort, victim string) *flooder {
	f := &flooder{
		port: p, victim: victim, callee: "gauntlet-nobody-" + strings.ToLower(rand.Text()[:8]),
		pending: map[string]*sip.Request{},
		invites: map[string]*sip.Request{},
		counts: map[sip.RequestMethod]*floodCounts{
			sip.REGISTER: {statuses: map[int]int{}},
			sip.INVITE:   {statuses: map[int]int{}},
		},
	}
	return f
}

// run sends the source's share of the flood, evenly over floodSpan, while
// a reader counts the answers until the port is closed.
func (f *flooder) run(ctx context.Context, start time.Time) {
	f.start = start
	f.reader.Go(f.read)
	tick := time.NewTicker(floodSpan / floodPerSource)
	defer tick.Stop()
	for i := range floodPerSource {
		var req *sip.Request
		if i%2 == 0 {
			req = f.port.request(sip.REGISTER, f.port.uri(""), f.victim, f.victim)
			req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: f.victim, Host: f.port.local.IP.String(), Port: f.port.local.Port}})
		} else {
			req = f.port.withOffer(f.port.request(sip.INVITE, f.port.uri(f.callee), f.victim, f.callee))
		}
		f.mu.Lock()
		f.pending[req.CallID().Value()] = req
		if req.IsInvite() {
			f.invites[req.CallID().Value()] = req
		}
		f.mu.Unlock()
		if f.port.send([]byte(req.String())) == nil {
			f.mu.Lock()
			f.counts[req.Method].sent++
			f.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// wait returns once the reader has stopped (after the port is closed).
func (f *flooder) wait() { f.reader.Wait() }

func (f *flooder) read() {
	for {
		res, _, err := f.port.read(time.Time{})
		if errors.Is(err, net.ErrClosed) || err != nil {
			return
		}
		if res == nil || res.IsProvisional() || res.CallID() == nil || res.CSeq() == nil {
			continue
		}
		f.mu.Lock()
		req, first := f.pending[res.CallID().Value()]
		inv := f.invites[res.CallID().Value()]
		if first {
			delete(f.pending, res.CallID().Value())
			c := f.counts[req.Method]
			c.answered++
			c.statuses[res.StatusCode]++
			switch res.StatusCode {
			case sip.StatusServiceUnavailable:
				c.s503++
				if _, ok := retryAfter(res); ok {
					c.retryAfter++
				}
				if c.firstThrottle == 0 {
					c.firstThrottle, c.firstThrottleAfterN = time.Since(f.start), c.sent
				}
			case 429:
				c.s429++
			}
		}
		f.mu.Unlock()
		if inv != nil && res.CSeq().MethodName == sip.INVITE {
			// Retransmitted final answers are acknowledged again.
			f.port.acknowledge(inv, res)
		}
	}
}

// merge adds up the flooders' counts per method.
func merge(fs []*flooder) map[sip.RequestMethod]*floodCounts {
	out := map[sip.RequestMethod]*floodCounts{}
	for _, f := range fs {
		f.mu.Lock()
		for m, c := range f.counts {
			o := out[m]
			if o == nil {
				o = &floodCounts{statuses: map[int]int{}}
				out[m] = o
			}
			o.sent += c.sent
			o.answered += c.answered
			o.s503 += c.s503
			o.retryAfter += c.retryAfter
			o.s429 += c.s429
			for s, n := range c.statuses {
				o.statuses[s] += n
			}
			if c.firstThrottle > 0 && (o.firstThrottle == 0 || c.firstThrottle < o.firstThrottle) {
				o.firstThrottle, o.firstThrottleAfterN = c.firstThrottle, c.firstThrottleAfterN
			}
		}
		f.mu.Unlock()
	}
	return out
}

// judgeFlood turns the counts and the legitimate calls into the outcome.
func judgeFlood(counts map[sip.RequestMethod]*floodCounts, legit []reports.Result, victim string, took time.Duration) Outcome {
	out := Outcome{Verdict: Resisted}
	total, s503, s429, unanswered := 0, 0, 0, 0
	out.Evidence = append(out.Evidence, fmt.Sprintf(
		"flood: %d sources, %d requests each (REGISTER for %s without credentials, INVITE from %s to a user that does not exist) sent in %.1f s",
		floodSources, floodPerSource, victim, victim, took.Seconds()))
	for _, m := range []sip.RequestMethod{sip.REGISTER, sip.INVITE} {
		c := counts[m]
		if c == nil {
			continue
		}
		total += c.sent
		s503 += c.s503
		s429 += c.s429
		unanswered += c.sent - c.answered
		line := fmt.Sprintf("%s: %d sent, answers %s, %d unanswered", m, c.sent, statusCounts(c.statuses), c.sent-c.answered)
		if c.s503 > 0 {
			line += fmt.Sprintf("; 503 carried Retry-After %d of %d times; first 503 after %d ms (%d %s sent)",
				c.retryAfter, c.s503, c.firstThrottle.Milliseconds(), c.firstThrottleAfterN, m)
		}
		out.Evidence = append(out.Evidence, line)
		if c.s503 > c.retryAfter {
			out.Warnings = append(out.Warnings, fmt.Sprintf("%s: %d answers 503 without Retry-After (RFC 3261 21.5.4; CONFORMANCE.md asks for it)", m, c.s503-c.retryAfter))
		}
	}
	ok, causes, setups, firstErr := 0, map[string]int{}, []float64{}, ""
	for _, r := range legit {
		if r.Outcome == reports.OutcomeOK {
			ok++
			setups = append(setups, r.Phases.SignalingMS)
			continue
		}
		causes[r.Cause]++
		if firstErr == "" {
			firstErr = fmt.Sprintf("%s (SIP %d): %s", r.ID, r.SIPStatus, r.Error)
		}
	}
	share := 0.0
	if len(legit) > 0 {
		share = float64(ok) / float64(len(legit))
	}
	line := fmt.Sprintf("legitimate calls during the flood (browser to phone, own sources and accounts): %d of %d connected", ok, len(legit))
	if len(causes) > 0 {
		line += fmt.Sprintf("; failures by cause %v, the first %s", causes, firstErr)
	}
	if len(setups) > 0 {
		sort.Float64s(setups)
		line += fmt.Sprintf("; INVITE to 200 OK median %.0f ms", setups[len(setups)/2])
	}
	out.Evidence = append(out.Evidence, line)

	var reasons []string
	var fixes []string
	if s429 > 0 {
		out.Verdict, out.Severity = Vulnerable, Medium
		reasons = append(reasons, fmt.Sprintf("%d flood requests were answered SIP 429, which means Provide Referrer Identity (RFC 3892), not overload", s429))
		fixes = append(fixes, fix429)
	}
	switch {
	case total == 0:
		return Inconclusivef("sip-flood: no flood request could be sent")
	case s503 == 0 && s429 == 0 && unanswered*10 < total:
		out.Verdict, out.Severity = Vulnerable, Medium
		reasons = append(reasons, fmt.Sprintf("the flood was never throttled: %d of %d requests got an ordinary answer, none 503", total-unanswered, total))
		fixes = append(fixes, fixUnthrottled)
	case s503 == 0 && s429 == 0:
		out.Warnings = append(out.Warnings, fmt.Sprintf("%d of %d flood requests went unanswered and none got 503: the target drops what it sheds instead of answering 503 with Retry-After (or was overwhelmed)", unanswered, total))
	}
	if len(legit) == 0 {
		out.Warnings = append(out.Warnings, "no legitimate call ran during the flood")
	} else if share < legitMinSuccess {
		out.Verdict, out.Severity = Vulnerable, High
		reasons = append(reasons, fmt.Sprintf("only %d of %d legitimate calls connected during the flood (%.0f%% < %.0f%%)", ok, len(legit), 100*share, 100*legitMinSuccess))
		fixes = append(fixes, fixLegit)
	}
	if out.Verdict == Vulnerable {
		out.Reason = strings.Join(reasons, "; ")
		out.Remediation = strings.Join(fixes, " ")
		return out
	}
	out.Reason = fmt.Sprintf("the flood was throttled (%d of %d requests answered 503) and %d of %d legitimate calls connected", s503, total, ok, len(legit))
	if s503 == 0 {
		out.Reason = fmt.Sprintf("the flood was shed (%d of %d requests unanswered) and %d of %d legitimate calls connected", unanswered, total, ok, len(legit))
	}
	return out
}

// statusCounts writes {503: 900, 401: 100} as "503 ×900, 401 ×100",
// most frequent first.
func statusCounts(m map[int]int) string {
	type sc struct{ s, n int }
	var v []sc
	for s, n := range m {
		v = append(v, sc{s, n})
	}
	sort.Slice(v, func(i, j int) bool { return v[i].n > v[j].n || v[i].n == v[j].n && v[i].s < v[j].s })
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%d ×%d", x.s, x.n)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
