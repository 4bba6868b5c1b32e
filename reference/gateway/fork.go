package gateway

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// origination says whom the gateway calls and with what.
type origination struct {
	side      int
	user      string
	targets   []binding
	codecs    []codec // audio codecs to offer, in order
	dtmf      []codec // telephone-events to offer
	from      sip.FromHeader
	maxFwd    uint32
	onRinging func() // the first 18x of any branch
	headers   []sip.Header
}

// forkFailure is every branch failing; res is the final response to relay
// (RFC 3261 16.7 style: a 6xx, else the lowest-class 4xx/5xx), nil when no
// branch answered at all.
type forkFailure struct {
	res *sip.Response
	err error
}

func (f *forkFailure) Error() string {
	if f.res != nil {
		return fmt.Sprintf("callee answered %d %s", f.res.StatusCode, f.res.Reason)
	}
	return fmt.Sprintf("no callee answered: %v", f.err)
}

func (f *forkFailure) Unwrap() error { return f.err }

// better reports whether a is a better failure to relay than b.
func better(a, b *sip.Response) bool {
	if b == nil {
		return true
	}
	class := func(r *sip.Response) int { return r.StatusCode / 100 }
	switch {
	case class(a) == 6:
		return class(b) != 6
	case class(b) == 6:
		return false
	case a.StatusCode == sip.StatusRequestTerminated:
		return false
	}
	return class(a) < class(b) || b.StatusCode == sip.StatusRequestTerminated
}

type branchResult struct {
	l       *leg
	res     *sip.Response
	err     error
	handled bool // a loser that answered 2xx after the winner, already ended
}

// originate INVITEs every target at once (a fork to every registered
// contact), each from a leg of its own; the first 2xx wins, its media is
// connected to the answer and it is returned with what it chose (in its
// payload types); the other branches are CANCELed, and one that answers
// anyway is ACKed and BYEd.
func (c *call) originate(ctx context.Context, o origination) (*leg, chosen, error) {
	results := make(chan branchResult, len(o.targets))
	var claim sync.Mutex
	var winner *leg
	var ringOnce sync.Once
	onProv := func(res *sip.Response) {
		if res.StatusCode > 100 && o.onRinging != nil {
			ringOnce.Do(o.onRinging)
		}
	}
	var branches []*leg
	var lastErr error
	for _, t := range o.targets {
		l, err := c.startBranch(ctx, o, t)
		if err != nil {
			lastErr = err
			c.log.Info("branch not started", "contact", t.Contact.String(), "error", err)
			continue
		}
		branches = append(branches, l)
		ok := c.work.Go(func() {
			res, err := l.uac.wait(ctx, onProv)
			if err == nil && res.IsSuccess() {
				claim.Lock()
				first := winner == nil
				if first {
					winner = l
				}
				claim.Unlock()
				if !first {
					c.endLoser(l, res)
					results <- branchResult{l: l, handled: true}
					return
				}
			} else {
				c.dropBranch(l)
			}
			results <- branchResult{l: l, res: res, err: err}
		})
		if !ok {
			c.dropBranch(l)
		}
	}
	if len(branches) == 0 {
		return nil, chosen{}, &forkFailure{err: fmt.Errorf("no contact could be called: %w", lastErr)}
	}
	var best *sip.Response
	for i := range branches {
		var r branchResult
		select {
		case r = <-results:
		case <-ctx.Done():
			for _, b := range branches {
				b.uac.abandon()
			}
			c.endLate(results, len(branches)-i)
			return nil, chosen{}, &forkFailure{res: best, err: context.Cause(ctx)}
		}
		switch {
		case r.handled:
		case r.err != nil:
			lastErr = r.err
		case r.res.IsSuccess():
			for _, b := range branches {
				if b != r.l {
					b.uac.abandon()
				}
			}
			c.endLate(results, len(branches)-i-1)
			ch, err := c.acceptBranch(r.l, r.res, o)
			if err != nil {
				c.endLoser(r.l, nil)
				return nil, chosen{}, err
			}
			return r.l, ch, nil
		default:
			if better(r.res, best) {
				best = r.res
			}
		}
	}
	if lastErr == nil {
		lastErr = errors.New("every branch refused")
	}
	return nil, chosen{}, &forkFailure{res: best, err: lastErr}
}

// endLate collects the n branch results still to come after the fork is
// decided: a 2xx among them (the CANCEL race: the callee answered as the
// caller gave up) is ACKed and BYEd.
func (c *call) endLate(results <-chan branchResult, n int) {
	if n == 0 {
		return
	}
	c.work.Go(func() {
		for range n {
			r := <-results
			if !r.handled && r.err == nil && r.res.IsSuccess() {
				c.log.Info("ending a 2xx that came after the call was decided")
				c.endLoser(r.l, r.res)
			}
		}
	})
}

// startBranch makes one branch's leg, its media and offer, and sends its
// INVITE.
func (c *call) startBranch(ctx context.Context, o origination, t binding) (*leg, error) {
	g := c.g
	kind := KindSIP
	if isWS(t.Transport) {
		kind = KindWebRTC
	}
	l := c.newLeg(o.side, kind, o.user, t.Transport)
	if !c.addOther(l) {
		return nil, errCallsClosed
	}
	offered := withDTMF(o.codecs, o.dtmf)
	var body []byte
	if kind == KindWebRTC {
		web, err := newWebRTCLeg(g.api, g.cfg.DTLSRole, c.webrtcHooks(l))
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		l.web = web
		l.mu.Unlock()
		gctx, cancel := context.WithTimeout(ctx, gatherTimeout)
		sdp, err := web.offer(gctx, offered)
		cancel()
		if err != nil {
			return nil, err
		}
		body = []byte(sdp)
	} else {
		r, err := g.phoneLeg()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		l.rtp = r
		l.mu.Unlock()
		var crypto []cryptoAttr
		if r.sdes != nil {
			if crypto, err = r.sdes.offer(); err != nil {
				return nil, err
			}
		}
		body = plainSDP(g.cfg.mediaIP(), r.port(), offered, dirSendRecv, false, l.sessID, l.version, crypto...)
	}
	from := o.from
	from.Params = sip.NewParams()
	from.Params.Add("tag", sip.GenerateTagN(16))
	callID := rand.Text()
	if err := g.calls.addLeg(callID, l); err != nil {
		return nil, err
	}
	u, err := g.sendInvite(ctx, outbound{
		target:  t,
		from:    from,
		to:      sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: o.user, Host: g.cfg.Domain}},
		callID:  callID,
		maxFwd:  o.maxFwd,
		body:    body,
		headers: o.headers,
	})
	if err != nil {
		return nil, err
	}
	l.uac = u
	return l, nil
}

// acceptBranch confirms the winning branch's dialog (ACK) and connects its
// media to the answer.
func (c *call) acceptBranch(l *leg, res *sip.Response, o origination) (chosen, error) {
	d, err := l.uac.dialog(res)
	l.mu.Lock()
	l.dlg, l.up = d, true
	l.mu.Unlock()
	if err != nil {
		return chosen{}, err
	}
	var ch chosen
	if l.kind == KindWebRTC {
		ch, err = l.web.acceptAnswer(res.Body(), o.codecs, o.dtmf, c.g.cfg.weakened(WeakenSDPChecks))
	} else {
		var a plainAnswer
		a, err = parsePlainAnswer(res.Body(), o.codecs, o.dtmf, l.rtp.sdes != nil)
		if err == nil && l.rtp.sdes != nil {
			err = l.rtp.sdes.answered(a.Crypto)
		}
		if err == nil {
			ch = a.Chosen
			a.Media.Mux = false // not offered: RFC 5761 5.1.1
			l.rtp.connect(a.Media, ch)
			l.dir.Store(a.Dir)
		}
	}
	if err != nil {
		return chosen{}, err
	}
	l.mu.Lock()
	l.chosen = ch
	l.mu.Unlock()
	return ch, nil
}

// endLoser ACKs (when res is a 2xx) and BYEs a branch that answered after
// another won, and closes it.
func (c *call) endLoser(l *leg, res *sip.Response) {
	if res != nil {
		d, err := l.uac.dialog(res)
		if err == nil {
			l.mu.Lock()
			l.dlg, l.up = d, true
			l.mu.Unlock()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	if err := l.bye(ctx); err != nil {
		l.log.Debug("BYE to a losing branch", "error", err)
	}
	c.dropBranch(l)
}

// dropBranch closes a branch that did not win.
func (c *call) dropBranch(l *leg) {
	if err := l.closeMedia(); err != nil {
		l.log.Debug("closing a branch", "error", err)
	}
}
