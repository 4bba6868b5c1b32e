package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// onRefer takes a blind transfer (RFC 3515): a party of a connected call
// asks, in its dialog, that the other party be connected to the Refer-To
// user. The gateway answers 202, calls the target (forked to its
// contacts) with the other party's codec, and on its answer bridges the
// other party to it, NOTIFYs the transferor of the outcome (message/sipfrag)
// and BYEs it. A failed transfer leaves the call as it was.
func (g *Gateway) onRefer(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to == nil || !to.Params.Has("tag") {
		g.reply(tx, req, sip.StatusForbidden, "REFER Outside A Dialog Is Not Supported")
		return
	}
	l, ok := g.inDialog(req, tx)
	if !ok {
		return
	}
	target, err := referTarget(req, g.cfg.Domain)
	if err != nil {
		g.reply(tx, req, sip.StatusBadRequest, "Bad Refer-To", warn(err.Error()))
		return
	}
	if !g.allow(g.limits.inviteUser, l.user) {
		g.overloaded(tx, req, "INVITE rate limit per user")
		return
	}
	c := l.c
	c.mu.Lock()
	active := c.connected && !c.ended && (c.legs[sideCaller] == l || c.legs[sideCallee] == l)
	c.mu.Unlock()
	if !active || l.peer.Load() == nil {
		g.reply(tx, req, sip.StatusRequestPending, "Request Pending", warn("the call is not connected"))
		return
	}
	if !l.beginReinvite() {
		g.reply(tx, req, sip.StatusRequestPending, "Request Pending")
		return
	}
	g.reply(tx, req, sip.StatusAccepted, "Accepted")
	if !c.work.Go(func() { defer l.endReinvite(); c.transfer(l, target) }) {
		l.endReinvite()
	}
}

// referTarget reads the user of a Refer-To in the gateway's domain.
func referTarget(req *sip.Request, domain string) (string, error) {
	h := req.GetHeader("Refer-To")
	if h == nil {
		return "", errors.New("no Refer-To")
	}
	v := strings.TrimSpace(h.Value())
	if i := strings.IndexByte(v, '<'); i >= 0 {
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			return "", fmt.Errorf("Refer-To %q is not closed", v)
		}
		v = v[i+1 : i+j]
	}
	var u sip.Uri
	if err := sip.ParseUri(v, &u); err != nil {
		return "", fmt.Errorf("Refer-To %q: %w", v, err)
	}
	if u.Scheme != "sip" && u.Scheme != "sips" || u.User == "" || !strings.EqualFold(u.Host, domain) {
		return "", fmt.Errorf("Refer-To %q is not a user of %s", v, domain)
	}
	if len(u.Headers) > 0 {
		return "", fmt.Errorf("Refer-To %q: embedded headers (Replaces) are not supported", v)
	}
	return u.User, nil
}

// transfer connects from's peer to target in from's place.
func (c *call) transfer(from *leg, target string) {
	g := c.g
	ctx, cancel := context.WithTimeout(c.ctx, g.cfg.InviteTimeout)
	defer cancel()
	from.notify(ctx, "SIP/2.0 100 Trying", false)
	other := from.peer.Load()
	fail := func(code int, reason string, err error) {
		from.log.Info("transfer failed", "target", target, "error", err)
		from.notify(ctx, fmt.Sprintf("SIP/2.0 %d %s", code, reason), true)
	}
	if _, err := g.dir.kind(target); err != nil {
		fail(sip.StatusNotFound, "Not Found", err)
		return
	}
	targets := g.reg.bindings(target)
	if len(targets) == 0 {
		fail(sip.StatusTemporarilyUnavailable, "Temporarily Unavailable", errors.New("target not registered"))
		return
	}
	other.mu.Lock()
	ch := other.chosen
	other.mu.Unlock()
	var dtmf []codec
	if ch.DTMF != nil {
		dtmf = []codec{*ch.DTMF}
	}
	referredBy := sip.NewHeader("Referred-By", fmt.Sprintf("<sip:%s@%s>", from.user, g.cfg.Domain))
	next, nextCh, err := c.originate(ctx, origination{
		side:    from.side,
		user:    target,
		targets: targets,
		codecs:  []codec{ch.Audio},
		dtmf:    dtmf,
		from:    sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: other.user, Host: g.cfg.Domain}},
		maxFwd:  70,
		headers: []sip.Header{referredBy},
	})
	if err != nil {
		var ff *forkFailure
		if errors.As(err, &ff) && ff.res != nil {
			fail(ff.res.StatusCode, ff.res.Reason, err)
		} else {
			fail(sip.StatusRequestTimeout, "Request Timeout", err)
		}
		return
	}
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		c.endLoser(next, nil)
		return
	}
	c.legs[from.side] = next
	c.extraUser = append(c.extraUser, target)
	c.mu.Unlock()
	g.counts.add(target)
	from.peer.Store(nil)
	link(other, next)
	next.startMedia()
	from.log.Info("call transferred", "target", target, "codec", nextCh.Audio.String())
	from.notify(ctx, "SIP/2.0 200 OK", true)
	c.detach(from)
}

// detach ends a leg that is no longer a party of its call (a transferor).
func (c *call) detach(l *leg) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), byeTimeout)
	defer cancel()
	if err := l.bye(ctx); err != nil {
		l.log.Debug("BYE to the transferor", "error", err)
	}
	if err := l.closeMedia(); err != nil {
		l.log.Debug("closing the transferor's media", "error", err)
	}
}

// notify tells a transferor how its REFER is doing (RFC 3515 2.4.4).
func (l *leg) notify(ctx context.Context, frag string, final bool) {
	d := l.dialog()
	if d == nil {
		return
	}
	state := "active;expires=60"
	if final {
		state = "terminated;reason=noresource"
	}
	req := d.newRequest(sip.NOTIFY, []byte(frag+"\r\n"), "message/sipfrag;version=2.0",
		sip.NewHeader("Event", "refer"), sip.NewHeader("Subscription-State", state))
	nctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := d.do(nctx, req)
	switch {
	case err != nil:
		l.log.Debug("NOTIFY", "error", err)
	case !res.IsSuccess():
		l.log.Debug("NOTIFY refused", "status", res.StatusCode)
	}
}
