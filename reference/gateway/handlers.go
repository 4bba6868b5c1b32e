package gateway

import (
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// allowed lists the methods the gateway handles, for Allow headers.
const allowed = "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, REFER, NOTIFY, INFO"

func (g *Gateway) routes(srv *sipgo.Server) {
	srv.OnRegister(g.handle(g.onRegister))
	srv.OnInvite(g.handle(g.onInvite))
	srv.OnAck(g.handle(g.onAck))
	srv.OnBye(g.handle(g.onBye))
	srv.OnCancel(g.handle(g.onCancel))
	srv.OnOptions(g.handle(g.onOptions))
	srv.OnRefer(g.handle(g.onRefer))
	srv.OnNotify(g.handle(g.onInDialogOther))
	srv.OnInfo(g.handle(g.onInDialogOther))
	srv.OnNoRoute(g.handle(g.onUnknownMethod))
}

// handle counts h's invocations (sipgo runs each in a goroutine of its own)
// so Close can wait for them, answers 503 once the gateway is closing, and
// applies the checks every request gets first: 416 for a Request-URI
// scheme other than sip or sips, 420 for a Require the gateway does not
// support, 482 for a request that looped back, 483 when Max-Forwards is
// spent on a request the gateway would pass on.
func (g *Gateway) handle(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		if !g.handlers.enter() {
			if !req.IsAck() {
				g.overloaded(tx, req, "closing")
			}
			return
		}
		defer g.handlers.exit()
		g.metrics.request(string(req.Method))
		if req.IsAck() || req.IsCancel() {
			h(req, tx)
			return
		}
		if res := g.precheck(req); res != nil {
			g.send(tx, res)
			return
		}
		h(req, tx)
	}
}

func (g *Gateway) precheck(req *sip.Request) *sip.Response {
	if req.SipVersion != "SIP/2.0" {
		res := sip.NewResponseFromRequest(req, sip.StatusVersionNotSupported, "Version Not Supported", nil)
		res.SipVersion = "SIP/2.0" // the version the gateway speaks, not the one it refuses
		return res
	}
	if res := malformedFields(req); res != nil {
		return res
	}
	if s := strings.ToLower(req.Recipient.Scheme); s != "sip" && s != "sips" {
		return sip.NewResponseFromRequest(req, statusUnsupportedURIScheme, "Unsupported URI Scheme", nil)
	}
	var unsupported []string
	for _, name := range []string{"Require", "Proxy-Require"} {
		for _, h := range req.GetHeaders(name) {
			for _, tag := range strings.Split(h.Value(), ",") {
				if tag = strings.TrimSpace(tag); tag != "" {
					unsupported = append(unsupported, tag)
				}
			}
		}
	}
	if len(unsupported) > 0 {
		res := sip.NewResponseFromRequest(req, sip.StatusBadExtension, "Bad Extension", nil)
		res.AppendHeader(sip.NewHeader("Unsupported", strings.Join(unsupported, ", ")))
		return res
	}
	if g.looped(req) {
		return sip.NewResponseFromRequest(req, sip.StatusLoopDetected, "Loop Detected", nil)
	}
	if mf := req.MaxForwards(); mf != nil && uint32(*mf) == 0 && g.forwards(req) {
		return sip.NewResponseFromRequest(req, sip.StatusTooManyHops, "Too Many Hops", nil)
	}
	return nil
}

// singleValued are the header fields a request carries at most once.
var singleValued = []string{"From", "To", "Call-ID", "CSeq", "Max-Forwards", "Content-Length", "Content-Type"}

// malformedFields answers 400 to a request whose fields contradict
// themselves: a single-valued field given twice (RFC 3261 7.3, RFC 4475
// 3.3.8, 3.3.9) or a CSeq method other than the request's (8.1.1.5, RFC
// 4475 3.1.2.17).
func malformedFields(req *sip.Request) *sip.Response {
	for _, name := range singleValued {
		if len(req.GetHeaders(name)) > 1 {
			return sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Duplicate "+name, nil)
		}
	}
	// sipgo upper-cases the Request-Line's method but not the CSeq's.
	if cseq := req.CSeq(); cseq != nil && !strings.EqualFold(string(cseq.MethodName), string(req.Method)) {
		return sip.NewResponseFromRequest(req, sip.StatusBadRequest, "CSeq Method Mismatch", nil)
	}
	return nil
}

// forwards reports whether the gateway passes req on to someone else (a new
// call, or an OPTIONS for a user), where Max-Forwards matters.
func (g *Gateway) forwards(req *sip.Request) bool {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		return false
	}
	switch req.Method {
	case sip.INVITE:
		return true
	case sip.REGISTER:
		return false
	}
	return req.Recipient.User != "" && req.Recipient.User != "gateway"
}

// looped reports a request that carries one of the gateway's own
// addresses in a Via: the gateway never forwards requests, so it sent this
// one itself and it came back.
func (g *Gateway) looped(req *sip.Request) bool {
	for _, h := range req.GetHeaders("Via") {
		v, ok := h.(*sip.ViaHeader)
		if !ok {
			continue
		}
		ip, err := netip.ParseAddr(v.Host)
		if err != nil {
			continue
		}
		for _, l := range g.listeners {
			if l.bound.Addr() == ip.Unmap() && int(l.bound.Port()) == v.Port {
				return true
			}
		}
	}
	return false
}

func (g *Gateway) reply(tx sip.ServerTransaction, req *sip.Request, code int, reason string, headers ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range headers {
		res.AppendHeader(h)
	}
	g.send(tx, res)
}

func (g *Gateway) send(tx sip.ServerTransaction, res *sip.Response) {
	if err := tx.Respond(res); err != nil {
		g.log.Debug("response not sent", "status", res.StatusCode, "error", err)
	}
}

// overloaded answers 503 with Retry-After (never SIP 429, RFC 3892's
// "Provide Referrer Identity").
func (g *Gateway) overloaded(tx sip.ServerTransaction, req *sip.Request, why string) {
	g.metrics.limited(string(req.Method), why)
	g.log.Debug("503", "method", req.Method, "source", req.Source(), "why", why)
	g.reply(tx, req, sip.StatusServiceUnavailable, "Service Unavailable",
		sip.NewHeader("Retry-After", strconv.Itoa(g.cfg.RateLimit.retryAfterSeconds())))
}

// allow takes a token from l for key, unless rate limits are weakened.
func (g *Gateway) allow(l *limiter, key string) bool {
	if g.unlimited {
		return true
	}
	return l.allow(key, g.now())
}

// tokenAllows checks that a request on a WebSocket opened with a bearer
// token speaks for the token's subject.
func (g *Gateway) tokenAllows(req *sip.Request, user string) bool {
	if g.tokens == nil || !isWS(req.Transport()) {
		return true
	}
	sub, ok := g.tokenSubject(req.Source())
	return ok && (sub == "" || sub == user)
}

// onAck marks the caller's ACK for the gateway's 2xx. ACKs toward callees
// are the gateway's own; stray ACKs are dropped, as RFC 3261 says.
func (g *Gateway) onAck(req *sip.Request, _ sip.ServerTransaction) {
	if req.CallID() == nil {
		return
	}
	l := g.calls.get(req.CallID().Value())
	if l == nil || l.uas == nil {
		return
	}
	if d := l.dialog(); d != nil && d.matches(req) {
		l.uas.ack()
	}
}

// inDialog finds the leg an in-dialog request belongs to, answering 481
// when there is none (RFC 3261 12.2.2) and 500 when its CSeq is too low.
func (g *Gateway) inDialog(req *sip.Request, tx sip.ServerTransaction) (*leg, bool) {
	if req.CallID() == nil || req.CSeq() == nil {
		g.reply(tx, req, sip.StatusBadRequest, "Missing Call-ID or CSeq")
		return nil, false
	}
	l := g.calls.get(req.CallID().Value())
	var d *dialog
	if l != nil {
		d = l.dialog()
	}
	if d == nil || !d.matches(req) {
		g.reply(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return nil, false
	}
	if !d.acceptSeq(req) {
		g.reply(tx, req, sip.StatusInternalServerError, "CSeq Out Of Order")
		return nil, false
	}
	return l, true
}

// onBye ends a call from either side: 200 to the BYE, BYE to the other leg.
func (g *Gateway) onBye(req *sip.Request, tx sip.ServerTransaction) {
	l, ok := g.inDialog(req, tx)
	if !ok {
		return
	}
	l.mu.Lock()
	l.up = false
	l.mu.Unlock()
	g.reply(tx, req, sip.StatusOK, "OK")
	c := l.c
	c.mu.Lock()
	active := c.legs[sideCaller] == l || c.legs[sideCallee] == l
	c.mu.Unlock()
	if !active { // a transferor hanging up after its NOTIFY
		if err := l.closeMedia(); err != nil {
			l.log.Debug("closing a detached leg", "error", err)
		}
		return
	}
	c.hangup(l, "BYE from "+l.user)
}

// onCancel sees only CANCELs that match no INVITE (sipgo answers the others).
func (g *Gateway) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	g.reply(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
}

// onOptions answers keepalives and capability queries, in a dialog or not.
func (g *Gateway) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		if _, ok := g.inDialog(req, tx); !ok {
			return
		}
	}
	g.reply(tx, req, sip.StatusOK, "OK", sip.NewHeader("Allow", allowed), sip.NewHeader("Accept", "application/sdp"))
}

// onInDialogOther answers NOTIFY and INFO: in a dialog they are taken (200)
// and not relayed; outside one there is no dialog for them (481).
func (g *Gateway) onInDialogOther(req *sip.Request, tx sip.ServerTransaction) {
	if _, ok := g.inDialog(req, tx); !ok {
		return
	}
	g.reply(tx, req, sip.StatusOK, "OK")
}

func (g *Gateway) onUnknownMethod(req *sip.Request, tx sip.ServerTransaction) {
	g.reply(tx, req, sip.StatusMethodNotAllowed, "Method Not Allowed", sip.NewHeader("Allow", allowed))
}

// merges remembers recent INVITEs by From tag, Call-ID and CSeq, to spot a
// merged request (RFC 3261 8.2.2.2): the same INVITE arriving again by
// another path, with another branch.
type merges struct {
	mu   sync.Mutex
	seen map[string]mergeEntry
}

type mergeEntry struct {
	branch string
	at     time.Time
}

const mergeWindow = 32 * time.Second

// mergeCheck records req and reports false when it is a merged request.
func (g *Gateway) mergeCheck(req *sip.Request) bool {
	via := req.Via()
	if via == nil {
		return true
	}
	branch, _ := via.Params.Get("branch")
	key := tagOf(req.From().Params) + "|" + req.CallID().Value() + "|" + strconv.FormatUint(uint64(req.CSeq().SeqNo), 10)
	now := g.now()
	m := &g.merged
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil || len(m.seen) > 100000 {
		for k, e := range m.seen {
			if now.Sub(e.at) > mergeWindow {
				delete(m.seen, k)
			}
		}
		if m.seen == nil {
			m.seen = map[string]mergeEntry{}
		}
	}
	if e, ok := m.seen[key]; ok && now.Sub(e.at) < mergeWindow && e.branch != branch {
		return false
	}
	m.seen[key] = mergeEntry{branch: branch, at: now}
	return true
}

// statusUnsupportedURIScheme is RFC 3261's 416 (sipgo names 416 after HTTP).
const statusUnsupportedURIScheme = 416
