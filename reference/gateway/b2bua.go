package gateway

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// gatherTimeout bounds ICE gathering for an offer or answer (host
// candidates only).
const gatherTimeout = 5 * time.Second

// admitted is an INVITE that passed every check.
type admitted struct {
	caller, callee string
	offer          offer
	targets        []binding
	maxFwd         uint32
}

// onInvite runs a new call in any direction: a browser (SIP over
// WebSocket, WebRTC media) or a phone (SIP over UDP, TCP or TLS, plain RTP)
// calls a browser or a phone, forked to every contact the callee
// registered. It returns once the caller has its final response; the media
// then runs in the call's goroutines. A re-INVITE goes to onReinvite.
func (g *Gateway) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		g.onReinvite(req, tx)
		return
	}
	g.reply(tx, req, sip.StatusTrying, "Trying")
	if g.isDraining() {
		g.overloaded(tx, req, "draining")
		return
	}
	adm, ok := g.admitInvite(req, tx)
	if !ok {
		return
	}
	c, err := g.newCall(req, adm)
	if err != nil {
		g.overloaded(tx, req, err.Error())
		return
	}
	defer close(c.setupDone)
	caller, err := c.callerLeg(req, tx, adm)
	if err != nil {
		g.reply(tx, req, sip.StatusBadRequest, "Bad Request", warn(err.Error()))
		c.hangup(nil, err.Error())
		return
	}
	if !tx.OnCancel(func(*sip.Request) { c.hangup(caller, "caller CANCEL") }) {
		c.hangup(caller, "INVITE transaction already over")
		return
	}
	c.setup(caller, adm)
}

// admitInvite checks caller, callee and offer, answering the INVITE itself
// when they fail: 503 beyond a rate limit, 403 for a caller outside the
// directory, 401 without credentials, 404 for an unknown callee, 480 for
// one with no registration, 415/488 for the body.
func (g *Gateway) admitInvite(req *sip.Request, tx sip.ServerTransaction) (admitted, bool) {
	from := req.From()
	if from == nil || req.CallID() == nil || req.CSeq() == nil {
		g.reply(tx, req, sip.StatusBadRequest, "Missing From, Call-ID or CSeq")
		return admitted{}, false
	}
	if !g.allow(g.limits.inviteSource, sourceIP(req)) {
		g.overloaded(tx, req, "INVITE rate limit per source")
		return admitted{}, false
	}
	if !g.mergeCheck(req) {
		g.reply(tx, req, sip.StatusLoopDetected, "Loop Detected (merged request)")
		return admitted{}, false
	}
	// A caller outside the directory is challenged like any other (its
	// credentials can only be wrong), so answers never tell whether a user
	// exists; weakened, it gets 403 at once.
	caller := from.Address.User
	_, dirErr := g.dir.kind(caller)
	if !strings.EqualFold(from.Address.Host, g.cfg.Domain) || dirErr != nil && g.cfg.weakened(WeakenUniformAnswers) {
		g.reply(tx, req, sip.StatusForbidden, "Unknown Caller")
		return admitted{}, false
	}
	if !g.tokenAllows(req, caller) {
		g.reply(tx, req, sip.StatusForbidden, "Not The Token's Subject")
		return admitted{}, false
	}
	if !g.allow(g.limits.inviteUser, caller) {
		g.overloaded(tx, req, "INVITE rate limit per user")
		return admitted{}, false
	}
	if res := g.auth.authenticate(req, caller); res != nil {
		g.metrics.authRefused(string(req.Method))
		g.send(tx, res)
		return admitted{}, false
	}
	if dirErr != nil { // only with digest weakened: nobody else gets here
		g.reply(tx, req, sip.StatusForbidden, "Unknown Caller")
		return admitted{}, false
	}
	callee := req.Recipient.User
	if _, err := g.dir.kind(callee); err != nil || !strings.EqualFold(req.Recipient.Host, g.cfg.Domain) {
		g.reply(tx, req, sip.StatusNotFound, "Not Found")
		return admitted{}, false
	}
	targets := g.reg.bindings(callee)
	if len(targets) == 0 {
		g.reply(tx, req, sip.StatusTemporarilyUnavailable, "Temporarily Unavailable")
		return admitted{}, false
	}
	o, ok := g.admitOffer(req, tx)
	if !ok {
		return admitted{}, false
	}
	maxFwd := uint32(70)
	if mf := req.MaxForwards(); mf != nil {
		maxFwd = min(uint32(*mf)-1, 70)
	}
	return admitted{caller: caller, callee: callee, offer: o, targets: targets, maxFwd: maxFwd}, true
}

// admitOffer reads the INVITE's SDP: WebRTC from a WebSocket, plain RTP
// from UDP, TCP or TLS.
func (g *Gateway) admitOffer(req *sip.Request, tx sip.ServerTransaction) (offer, bool) {
	if len(req.Body()) == 0 {
		g.reply(tx, req, sip.StatusNotAcceptableHere, "Not Acceptable Here", warn("an SDP offer is required"))
		return offer{}, false
	}
	if !isSDP(req.ContentType()) {
		g.reply(tx, req, sip.StatusUnsupportedMediaType, "Unsupported Media Type", sip.NewHeader("Accept", "application/sdp"))
		return offer{}, false
	}
	var o offer
	var err error
	if isWS(req.Transport()) {
		o, err = parseWebRTCOffer(req.Body(), g.cfg.weakened(WeakenSDPChecks))
	} else {
		o, err = parsePlainOffer(req.Body(), g.offerSuites())
	}
	if err != nil {
		g.log.Info("offer refused", "call_id", req.CallID().Value(), "error", err)
		g.metrics.callFailed("sdp")
		g.reply(tx, req, sip.StatusNotAcceptableHere, "Not Acceptable Here", warn(warning(err)))
		return offer{}, false
	}
	return o, true
}

func (g *Gateway) newCall(req *sip.Request, adm admitted) (*call, error) {
	users := []string{adm.caller, adm.callee}
	perUser, total := g.cfg.RateLimit.MaxCallsPerUser, g.cfg.RateLimit.MaxCalls
	if g.cfg.weakened(WeakenRateLimit) {
		perUser, total = 0, 0
	}
	if !g.counts.take(users, perUser, total) {
		return nil, errors.New("call cap reached")
	}
	ctx, cancel := context.WithCancel(g.ctx)
	n, faults := g.faults.forCall(req.CallID().Value(), adm.caller, adm.callee)
	c := &call{
		g:         g,
		ctx:       ctx,
		cancel:    cancel,
		setupDone: make(chan struct{}),
		work:      newRoutines(),
		id:        req.CallID().Value(),
		num:       n,
		faults:    faults,
		counted:   users,
	}
	c.log = g.log.With("call_id", c.id)
	if err := g.calls.add(c); err != nil {
		cancel()
		g.counts.release(users, true)
		return nil, err
	}
	g.metrics.callStarted()
	return c, nil
}

// callerLeg is the caller's leg, indexed by its Call-ID.
func (c *call) callerLeg(req *sip.Request, tx sip.ServerTransaction, adm admitted) (*leg, error) {
	kind := KindSIP
	if adm.offer.WebRTC {
		kind = KindWebRTC
	}
	l := c.newLeg(sideCaller, kind, adm.caller, req.Transport())
	u, err := newUAS(c.g, req, tx)
	if err != nil {
		return nil, err
	}
	l.uas = u
	l.dir.Store(adm.offer.Dir)
	c.setLeg(sideCaller, l)
	if err := c.g.calls.addLeg(c.id, l); err != nil {
		return nil, err
	}
	return l, nil
}

// setup runs the B2BUA: INVITE every contact of the callee, relay the
// first ringing, and on the first 2xx answer the caller's offer with the
// codec the callee chose and start the media. Every failure answers the
// caller (if it still can) and hangs up.
func (c *call) setup(caller *leg, adm admitted) {
	g := c.g
	ictx, cancel := context.WithTimeout(c.ctx, g.cfg.InviteTimeout)
	defer cancel()
	from := caller.uas.invite.From()
	callee, ch, err := c.originate(ictx, origination{
		side:    sideCallee,
		user:    adm.callee,
		targets: adm.targets,
		codecs:  adm.offer.Codecs,
		dtmf:    adm.offer.DTMF,
		from:    sip.FromHeader{DisplayName: from.DisplayName, Address: sip.Uri{Scheme: "sip", User: adm.caller, Host: g.cfg.Domain}},
		maxFwd:  adm.maxFwd,
		onRinging: func() {
			if err := caller.uas.respond(sip.StatusRinging, "Ringing", nil); err != nil {
				c.log.Debug("relaying 180", "error", err)
			}
		},
	})
	if err != nil {
		c.failInvite(err)
		return
	}
	c.setLeg(sideCallee, callee)
	if len(c.faults) > 0 {
		g.faults.answered(c.num, callee.uac.req.CallID().Value())
	}
	if c.ctx.Err() != nil {
		c.fail(sip.StatusRequestTerminated, "Request Terminated", context.Cause(c.ctx))
		return
	}
	answer, err := c.answerCaller(caller, adm.offer, ch.inOfferSpace(adm.offer.Codecs, adm.offer.DTMF))
	if err != nil {
		var se *sdpError
		if errors.As(err, &se) {
			c.fail(sip.StatusNotAcceptableHere, "Not Acceptable Here", err)
			return
		}
		c.fail(sip.StatusInternalServerError, "Server Internal Error", err)
		return
	}
	link(caller, callee)
	caller.startMedia()
	callee.startMedia()
	caller.mu.Lock()
	caller.dlg = caller.uas.dialog(g)
	caller.mu.Unlock()
	if err := caller.uas.respond(sip.StatusOK, "OK", answer); err != nil {
		c.hangup(nil, err.Error())
		return
	}
	caller.mu.Lock()
	caller.up = true
	caller.mu.Unlock()
	c.mu.Lock()
	c.connected = true
	c.mu.Unlock()
	g.metrics.callConnected()
	c.log.Info("call connected", "codec", ch.Audio.String(), "caller", adm.caller, "callee", adm.callee,
		"caller_media", caller.kind, "callee_media", callee.kind)
	c.work.Go(func() { c.awaitACK(caller) })
}

// awaitACK retransmits the 2xx to a caller on UDP, T1 doubling up to T2,
// until its ACK comes (RFC 3261 13.3.1.4: the transaction layer does not),
// and ends the call when none comes in 64*T1.
func (c *call) awaitACK(caller *leg) {
	deadline := time.NewTimer(ackTimeout)
	defer deadline.Stop()
	interval := sip.T1
	var retransmit <-chan time.Time
	if !reliable(caller.transport) {
		retransmit = time.After(interval)
	}
	for {
		select {
		case <-caller.uas.acked:
			return
		case <-c.ctx.Done():
			return
		case <-deadline.C:
			c.hangup(nil, "no ACK for the 2xx")
			return
		case <-retransmit:
			if res := caller.uas.lastOK(); res != nil {
				if err := c.g.ua.TransportLayer().WriteMsg(res); err != nil {
					c.log.Debug("2xx retransmission", "error", err)
				}
			}
			interval = min(2*interval, sip.T2)
			retransmit = time.After(interval)
		}
	}
}

// answerCaller builds the caller's media for the chosen codec (in the
// caller's payload types) and returns the SDP answer.
func (c *call) answerCaller(caller *leg, o offer, ch chosen) ([]byte, error) {
	g := c.g
	caller.mu.Lock()
	caller.chosen = ch
	caller.mu.Unlock()
	if o.WebRTC {
		web, err := newWebRTCLeg(g.api, g.cfg.DTLSRole, c.webrtcHooks(caller))
		if err != nil {
			return nil, err
		}
		caller.mu.Lock()
		caller.web = web
		caller.mu.Unlock()
		gctx, cancel := context.WithTimeout(c.ctx, gatherTimeout)
		defer cancel()
		answer, err := web.answer(gctx, o, ch)
		return []byte(answer), err
	}
	r, err := g.phoneLeg()
	if err != nil {
		return nil, err
	}
	var crypto []cryptoAttr
	if o.SDES != nil {
		ours, err := r.sdes.answer(*o.SDES)
		if err != nil {
			return nil, errors.Join(err, r.close())
		}
		crypto = append(crypto, ours)
	}
	r.connect(o.Plain, ch)
	caller.mu.Lock()
	caller.rtp = r
	v := caller.version
	caller.mu.Unlock()
	return plainSDP(g.cfg.mediaIP(), r.port(), ch.codecs(), mirror(o.Dir), r.mux(), caller.sessID, v, crypto...), nil
}

func (c *call) webrtcHooks(l *leg) webrtcHooks {
	return webrtcHooks{
		spawn: c.work.Go,
		ended: func(reason string) { c.legEnded(l, reason) },
		dtls:  func() { c.g.metrics.dtlsFailed() },
	}
}

// failInvite answers the caller after every callee branch failed: the
// callee's own final code, 408 when none answered in time, 487 after the
// caller's CANCEL, 503 when the gateway is closing. A CANCEL already got
// its 487 from sipgo.
func (c *call) failInvite(err error) {
	var ff *forkFailure
	var se *sdpError
	switch {
	case errors.As(err, &se):
		c.fail(sip.StatusNotAcceptableHere, "Not Acceptable Here", err)
	case errors.As(err, &ff) && ff.res != nil:
		code, reason := ff.res.StatusCode, ff.res.Reason
		if code == sip.StatusUnauthorized || code == sip.StatusProxyAuthRequired {
			code, reason = sip.StatusTemporarilyUnavailable, "Temporarily Unavailable"
		}
		c.fail(code, reason, err)
	case c.g.ctx.Err() != nil:
		c.fail(sip.StatusServiceUnavailable, "Service Unavailable", err)
	case errors.Is(c.ctx.Err(), context.Canceled):
		c.fail(sip.StatusRequestTerminated, "Request Terminated", err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, errCanceled):
		c.fail(sip.StatusRequestTimeout, "Request Timeout", err)
	default:
		c.fail(sip.StatusTemporarilyUnavailable, "Temporarily Unavailable", err)
	}
}

// fail answers the caller with code (if no final answer went out yet) and
// hangs up.
func (c *call) fail(code int, reason string, cause error) {
	var hdrs []sip.Header
	if code == sip.StatusNotAcceptableHere && cause != nil {
		hdrs = append(hdrs, warn(warning(cause)))
	}
	if code == sip.StatusServiceUnavailable {
		hdrs = append(hdrs, sip.NewHeader("Retry-After", strconv.Itoa(c.g.cfg.RateLimit.retryAfterSeconds())))
	}
	if caller := c.leg(sideCaller); caller != nil {
		if err := caller.uas.respond(code, reason, nil, hdrs...); err != nil {
			c.log.Debug("final response to caller", "error", err)
		}
	}
	c.g.metrics.callFailed(strconv.Itoa(code))
	c.hangup(nil, cause.Error())
}

func isSDP(ct *sip.ContentTypeHeader) bool {
	if ct == nil {
		return false
	}
	mediaType, _, _ := strings.Cut(ct.Value(), ";")
	return strings.EqualFold(strings.TrimSpace(mediaType), "application/sdp")
}

func warn(text string) sip.Header {
	return sip.NewHeader("Warning", `399 gauntlet-gateway "`+strings.ReplaceAll(text, `"`, `'`)+`"`)
}

func sessionID() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:]) >> 2
}

// sourceIP is the IP a request came from.
func sourceIP(req *sip.Request) string {
	host, _, err := net.SplitHostPort(req.Source())
	if err != nil {
		return req.Source()
	}
	return host
}
