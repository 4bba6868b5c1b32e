package gateway

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
)

// gatherTimeout bounds ICE gathering for an answer (host candidates only).
const gatherTimeout = 5 * time.Second

// onInvite bridges an INVITE from a browser (over WebSocket) to a phone
// registered over UDP. It runs the whole setup and returns once the browser
// has its final response; the media then runs in the call's goroutines.
func (g *Gateway) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		g.reply(tx, req, sip.StatusNotAcceptableHere, "Re-INVITE Not Supported", warn("re-INVITE is not supported yet"))
		return
	}
	if !strings.EqualFold(req.Transport(), "WS") {
		g.reply(tx, req, sip.StatusNotImplemented, "Calls Toward Browsers Not Implemented")
		return
	}
	g.reply(tx, req, sip.StatusTrying, "Trying")
	target, offer, ok := g.admitInvite(req, tx)
	if !ok {
		return
	}
	browser, err := newBrowserLeg(req, tx, g.wsContact)
	if err != nil {
		g.reply(tx, req, sip.StatusBadRequest, "Bad Request", warn(err.Error()))
		return
	}
	c, err := g.newCall(req, browser)
	if err != nil {
		g.reply(tx, req, sip.StatusServiceUnavailable, "Service Unavailable")
		return
	}
	defer close(c.setupDone)
	if !tx.OnCancel(func(*sip.Request) { c.hangup(sideBrowser, "browser CANCEL") }) {
		c.hangup(sideBrowser, "INVITE transaction already over")
		return
	}
	c.setup(req, offer, target)
}

// admitInvite checks caller, callee and offer, answering the INVITE itself
// when they fail: 403 for a caller outside the directory, 404 for an unknown
// callee, 480 for one with no UDP registration, 415/488 for the body.
func (g *Gateway) admitInvite(req *sip.Request, tx sip.ServerTransaction) (binding, webrtcOffer, bool) {
	from := req.From()
	if from == nil || req.CallID() == nil || req.CSeq() == nil {
		g.reply(tx, req, sip.StatusBadRequest, "Missing From, Call-ID or CSeq")
		return binding{}, webrtcOffer{}, false
	}
	if mf := req.MaxForwards(); mf != nil && uint32(*mf) == 0 {
		g.reply(tx, req, sip.StatusTooManyHops, "Too Many Hops")
		return binding{}, webrtcOffer{}, false
	}
	if _, err := g.dir.kind(from.Address.User); err != nil || !strings.EqualFold(from.Address.Host, g.cfg.Domain) {
		g.reply(tx, req, sip.StatusForbidden, "Unknown Caller")
		return binding{}, webrtcOffer{}, false
	}
	if res := g.auth.authenticate(req); res != nil {
		g.send(tx, res)
		return binding{}, webrtcOffer{}, false
	}
	callee := req.Recipient.User
	if _, err := g.dir.kind(callee); err != nil || !strings.EqualFold(req.Recipient.Host, g.cfg.Domain) {
		g.reply(tx, req, sip.StatusNotFound, "Not Found")
		return binding{}, webrtcOffer{}, false
	}
	target, ok := g.reg.lookup(callee, "UDP")
	if !ok {
		g.reply(tx, req, sip.StatusTemporarilyUnavailable, "Temporarily Unavailable")
		return binding{}, webrtcOffer{}, false
	}
	if len(req.Body()) == 0 {
		g.reply(tx, req, sip.StatusNotAcceptableHere, "Not Acceptable Here", warn("an SDP offer is required"))
		return binding{}, webrtcOffer{}, false
	}
	if !isSDP(req.ContentType()) {
		g.reply(tx, req, sip.StatusUnsupportedMediaType, "Unsupported Media Type", sip.NewHeader("Accept", "application/sdp"))
		return binding{}, webrtcOffer{}, false
	}
	offer, err := parseWebRTCOffer(req.Body())
	if err != nil {
		g.log.Info("offer refused", "call_id", req.CallID().Value(), "error", err)
		g.reply(tx, req, sip.StatusNotAcceptableHere, "Not Acceptable Here", warn(warning(err)))
		return binding{}, webrtcOffer{}, false
	}
	return target, offer, true
}

func (g *Gateway) newCall(req *sip.Request, browser *browserLeg) (*call, error) {
	ctx, cancel := context.WithCancel(g.ctx)
	c := &call{
		g:           g,
		ctx:         ctx,
		cancel:      cancel,
		setupDone:   make(chan struct{}),
		work:        newRoutines(),
		browser:     browser,
		browserID:   req.CallID().Value(),
		phoneCallID: rand.Text(),
	}
	c.log = g.log.With("call_id", c.browserID, "phone_call_id", c.phoneCallID)
	if err := g.calls.add(c); err != nil {
		cancel()
		return nil, err
	}
	return c, nil
}

// setup runs the B2BUA: INVITE the phone, relay its progress, and on its 2xx
// ACK it, answer the browser's offer through pion and start the media.
// Every failure answers the browser (if it still can) and hangs up.
func (c *call) setup(req *sip.Request, offer webrtcOffer, target binding) {
	g := c.g
	media, err := listenRTP(g.cfg.mediaIP())
	if err != nil {
		c.fail(sip.StatusInternalServerError, "Server Internal Error", err)
		return
	}
	c.mu.Lock()
	c.media = media
	c.mu.Unlock()

	ictx, cancel := context.WithTimeout(c.ctx, g.cfg.InviteTimeout)
	defer cancel()
	ua := sipgo.DialogUA{Client: g.udpClient, ContactHDR: g.udpContact}
	sess, err := ua.WriteInvite(ictx, g.phoneInvite(req, c.phoneCallID, target, phoneOffer(g.cfg.mediaIP(), media.port(), offer.Codecs, sessionID())))
	if err != nil {
		c.fail(sip.StatusServiceUnavailable, "Service Unavailable", err)
		return
	}
	ringing := false
	err = sess.WaitAnswer(ictx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
		if res.StatusCode > 100 && res.StatusCode < 200 && !ringing {
			ringing = true
			if err := c.browser.respond(sip.StatusRinging, "Ringing", nil); err != nil {
				c.log.Debug("relaying 180", "error", err)
			}
		}
		return nil
	}})
	if err != nil {
		c.failInvite(err)
		return
	}
	if err := sess.Ack(ictx); err != nil {
		c.setPhone(sess, true)
		c.fail(sip.StatusBadGateway, "Bad Gateway", err)
		return
	}
	c.setPhone(sess, true)
	c.connect(offer, sess.InviteResponse.Body())
}

// connect bridges the media once the phone has answered.
func (c *call) connect(offer webrtcOffer, phoneSDP []byte) {
	g := c.g
	if c.ctx.Err() != nil {
		c.fail(sip.StatusRequestTerminated, "Request Terminated", context.Cause(c.ctx))
		return
	}
	answer, err := parsePhoneAnswer(phoneSDP, offer.Codecs)
	if err != nil {
		c.fail(sip.StatusNotAcceptableHere, "Not Acceptable Here", err)
		return
	}
	c.media.connect(answer.Addr, answer.Phone.PT)
	gctx, cancel := context.WithTimeout(c.ctx, gatherTimeout)
	defer cancel()
	web, sdpAnswer, err := newWebRTCLeg(gctx, g.api, offer.SDP, answer.Browser, webrtcHooks{
		spawn: c.work.Go,
		onRTP: func(p *rtp.Packet) {
			if err := c.media.send(p); err != nil {
				c.log.Debug("rtp to phone", "error", err)
			}
		},
		ended: func(reason string) { c.hangup(sideGateway, reason) },
	})
	if err != nil {
		var se *sdpError
		if errors.As(err, &se) {
			c.fail(sip.StatusNotAcceptableHere, "Not Acceptable Here", err)
			return
		}
		c.fail(sip.StatusInternalServerError, "Server Internal Error", err)
		return
	}
	c.mu.Lock()
	c.web = web
	c.mu.Unlock()
	c.work.Go(func() {
		c.media.receive(func(p *rtp.Packet) {
			if err := web.send(p); err != nil {
				c.log.Debug("rtp to browser", "error", err)
			}
		})
	})
	if err := c.browser.respond(sip.StatusOK, "OK", []byte(sdpAnswer)); err != nil {
		c.hangup(sideGateway, err.Error())
		return
	}
	c.mu.Lock()
	c.browserUp = true
	c.mu.Unlock()
	c.log.Info("call connected", "codec", answer.Browser.String())
}

// failInvite answers the browser after the phone's INVITE failed: the
// phone's own final code, 408 when it never answered in time, 503 when the
// gateway is closing. A browser CANCEL already got its 487 from sipgo.
func (c *call) failInvite(err error) {
	var dr *sipgo.ErrDialogResponse
	switch {
	case errors.As(err, &dr):
		c.fail(dr.Res.StatusCode, dr.Res.Reason, err)
	case c.g.ctx.Err() != nil:
		c.fail(sip.StatusServiceUnavailable, "Service Unavailable", err)
	case c.ctx.Err() != nil:
		c.fail(sip.StatusRequestTerminated, "Request Terminated", err)
	default: // InviteTimeout, or the transaction timed out or failed
		c.fail(sip.StatusRequestTimeout, "Request Timeout", err)
	}
}

// fail answers the browser with code (if no final answer went out yet) and
// hangs up.
func (c *call) fail(code int, reason string, cause error) {
	var hdrs []sip.Header
	if code == sip.StatusNotAcceptableHere && cause != nil {
		hdrs = append(hdrs, warn(warning(cause)))
	}
	if err := c.browser.respond(code, reason, nil, hdrs...); err != nil {
		c.log.Debug("final response to browser", "error", err)
	}
	c.hangup(sideGateway, cause.Error())
}

// phoneInvite builds the INVITE toward the phone's registered contact: the
// caller's identity in From, the callee's AOR in To, a fresh Call-ID.
func (g *Gateway) phoneInvite(browserReq *sip.Request, callID string, target binding, sdp []byte) *sip.Request {
	req := sip.NewRequest(sip.INVITE, *target.Contact.Clone())
	req.SetTransport("UDP")
	caller := browserReq.From()
	from := sip.FromHeader{
		DisplayName: caller.DisplayName,
		Address:     sip.Uri{Scheme: "sip", User: caller.Address.User, Host: g.cfg.Domain},
	}
	from.Params.Add("tag", sip.GenerateTagN(16))
	to := sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: browserReq.Recipient.User, Host: g.cfg.Domain}}
	cid := sip.CallIDHeader(callID)
	maxFwd := sip.MaxForwardsHeader(70)
	if mf := browserReq.MaxForwards(); mf != nil {
		maxFwd = sip.MaxForwardsHeader(min(uint32(*mf)-1, 70))
	}
	ct := sip.ContentTypeHeader("application/sdp")
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
	req.AppendHeader(&maxFwd)
	req.AppendHeader(sip.HeaderClone(&g.udpContact))
	req.AppendHeader(&ct)
	req.SetBody(sdp)
	return req
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
	return binary.BigEndian.Uint64(b[:]) >> 1
}
