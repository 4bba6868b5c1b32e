package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/emiago/sipgo/sip"
	"github.com/pion/sdp/v3"
)

// onReinvite takes a re-INVITE from either party: hold and unhold
// (a=sendonly, a=inactive, a=sendrecv, or c=0.0.0.0 from a phone) and, from
// a browser, an ICE restart (new ufrag and pwd: pion restarts its ICE
// agent, the DTLS association and media go on over the new pair). A change
// of direction is passed on to the other party, phone or browser, by a
// re-INVITE of the gateway's own (see passHold); the gateway stops relaying
// the held direction either way. A second re-INVITE while one is in
// progress on the dialog gets 491.
func (g *Gateway) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	l, ok := g.inDialog(req, tx)
	if !ok {
		return
	}
	if !l.beginReinvite() {
		g.reply(tx, req, sip.StatusRequestPending, "Request Pending")
		return
	}
	defer l.endReinvite()
	if len(req.Body()) == 0 {
		g.reply(tx, req, sip.StatusNotAcceptableHere, "Not Acceptable Here", warn("a re-INVITE without an offer is not supported"))
		return
	}
	if !isSDP(req.ContentType()) {
		g.reply(tx, req, sip.StatusUnsupportedMediaType, "Unsupported Media Type", sip.NewHeader("Accept", "application/sdp"))
		return
	}
	before := l.direction()
	answer, err := l.reoffer(l.c.ctx, req.Body())
	if err != nil {
		l.log.Info("re-INVITE refused", "error", err)
		g.reply(tx, req, sip.StatusNotAcceptableHere, "Not Acceptable Here", warn(warning(err)))
		return
	}
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", answer)
	res.AppendHeader(g.contact(req.Transport(), req.Source()))
	ct := sip.ContentTypeHeader("application/sdp")
	res.AppendHeader(&ct)
	g.send(tx, res)
	if after := l.direction(); after != before {
		l.log.Info("media direction changed", "from", before, "to", after)
		if peer := l.peer.Load(); peer != nil {
			l.c.work.Go(func() { peer.passHold(after, l.direction) })
		}
	}
}

// reoffer applies a party's new offer and returns the gateway's answer.
func (l *leg) reoffer(ctx context.Context, body []byte) ([]byte, error) {
	l.mu.Lock()
	web, r, ch := l.web, l.rtp, l.chosen
	l.mu.Unlock()
	if web != nil {
		o, err := parseWebRTCOffer(body, l.c.g.cfg.weakened(WeakenSDPChecks))
		if err != nil {
			return nil, err
		}
		if _, ok := find(o.Codecs, ch.Audio); !ok {
			return nil, refuse(ErrSDPNoCodec, "the re-offer drops %s", ch.Audio)
		}
		gctx, cancel := context.WithTimeout(ctx, gatherTimeout)
		defer cancel()
		answer, err := web.renegotiate(gctx, o)
		if err != nil {
			return nil, err
		}
		l.dir.Store(o.Dir)
		return []byte(answer), nil
	}
	if r == nil {
		return nil, errors.New("the leg has no media")
	}
	_, audio, media, dir, err := readPlain(body, true, r.sdes != nil)
	if err != nil {
		return nil, err
	}
	codecs, dtmf := common(audio)
	c, ok := find(codecs, ch.Audio)
	if !ok {
		return nil, refuse(ErrSDPNoCodec, "the re-offer drops %s", ch.Audio)
	}
	if err := r.rekey(audio); err != nil {
		return nil, err
	}
	next := chosen{Audio: c, DTMF: dtmfAt(dtmf, c.Clock, dtmf)}
	r.connect(media, next)
	l.dir.Store(dir)
	l.mu.Lock()
	l.chosen = next
	l.version++
	v := l.version
	l.mu.Unlock()
	return plainSDP(l.c.g.cfg.mediaIP(), r.port(), next.codecs(), mirror(dir), r.mux(), l.sessID, v, r.crypto()...), nil
}

func find(cs []codec, want codec) (codec, bool) {
	for _, c := range cs {
		if c.same(want) {
			return c, true
		}
	}
	return codec{}, false
}

// reinvite sends a plain-SIP party a new offer with the current codec and
// dir.
func (l *leg) reinvite(ctx context.Context, dir string) error {
	l.mu.Lock()
	d, r, ch := l.dlg, l.rtp, l.chosen
	l.version++
	v := l.version
	l.mu.Unlock()
	if d == nil || r == nil {
		return errors.New("no dialog or media")
	}
	req := d.newRequest(sip.INVITE, plainSDP(l.c.g.cfg.mediaIP(), r.port(), ch.codecs(), dir, r.mux(), l.sessID, v, r.crypto()...), "application/sdp")
	res, err := d.do(ctx, req)
	if err != nil {
		return err
	}
	if !res.IsSuccess() {
		return reinviteRefused(res)
	}
	if err := d.ack(req.CSeq().SeqNo, nil); err != nil {
		return err
	}
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(res.Body()); err == nil {
		if audio := firstAudio(&sd); audio != nil {
			l.dir.Store(direction(&sd, audio))
			if r.sdes != nil {
				if err := r.sdes.reanswered(cryptoValues(audio)); err != nil {
					return fmt.Errorf("re-INVITE answer: %w", err)
				}
			}
		}
	}
	return nil
}
