package gateway

import (
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// allowed lists the methods the gateway handles, for Allow headers.
const allowed = "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER"

func (g *Gateway) routes(srv *sipgo.Server) {
	srv.OnRegister(g.handle(g.onRegister))
	srv.OnInvite(g.handle(g.onInvite))
	srv.OnAck(g.handle(g.onAck))
	srv.OnBye(g.handle(g.onBye))
	srv.OnCancel(g.handle(g.onCancel))
	srv.OnOptions(g.handle(g.onOptions))
	srv.OnNoRoute(g.handle(g.onUnknownMethod))
}

// handle counts h's invocations (sipgo runs each in a goroutine of its own)
// so Close can wait for them, and answers 503 once the gateway is closing.
func (g *Gateway) handle(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		if !g.handlers.enter() {
			if !req.IsAck() {
				g.reply(tx, req, sip.StatusServiceUnavailable, "Service Unavailable")
			}
			return
		}
		defer g.handlers.exit()
		h(req, tx)
	}
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

// onAck marks the browser's ACK for the gateway's 2xx. ACKs toward the
// phone leg are the gateway's own; stray ACKs are dropped, as RFC 3261 says.
func (g *Gateway) onAck(req *sip.Request, _ sip.ServerTransaction) {
	if !strings.EqualFold(req.Transport(), "WS") || req.CallID() == nil {
		return
	}
	if c := g.calls.get("WS", req.CallID().Value()); c != nil && c.browser.matches(req) {
		c.browser.ack()
	}
}

// onBye ends a call from either side: 200 to the BYE, BYE to the other leg.
func (g *Gateway) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if req.CallID() == nil {
		g.reply(tx, req, sip.StatusBadRequest, "Missing Call-ID")
		return
	}
	transport := strings.ToUpper(req.Transport())
	c := g.calls.get(transport, req.CallID().Value())
	switch {
	case c == nil:
	case transport == "WS" && c.browser.matches(req):
		g.reply(tx, req, sip.StatusOK, "OK")
		c.hangup(sideBrowser, "browser BYE")
		return
	case transport == "UDP":
		if sess := c.phoneDialog(req); sess != nil {
			if err := sess.ReadBye(req, tx); err != nil {
				c.log.Debug("answering phone BYE", "error", err)
			}
			c.hangup(sidePhone, "phone BYE")
			return
		}
	}
	g.reply(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
}

// onCancel sees only CANCELs that match no INVITE (sipgo answers the others).
func (g *Gateway) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	g.reply(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
}

func (g *Gateway) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	g.reply(tx, req, sip.StatusOK, "OK", sip.NewHeader("Allow", allowed), sip.NewHeader("Accept", "application/sdp"))
}

func (g *Gateway) onUnknownMethod(req *sip.Request, tx sip.ServerTransaction) {
	g.reply(tx, req, sip.StatusMethodNotAllowed, "Method Not Allowed", sip.NewHeader("Allow", allowed))
}
