package gateway

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/emiago/sipgo/sip"
)

// passHoldTimeout bounds passing one change of direction on, retries
// after 491 included.
const passHoldTimeout = 20 * time.Second

// passHoldAttempts bounds how often one change of direction is offered to
// a party that answers 491 (or whose dialog is busy with another
// re-INVITE).
const passHoldAttempts = 4

// errPending is a re-INVITE that could not go out or was refused because
// another one is in progress on the dialog: the party answered 491
// Request Pending, or the gateway has a re-INVITE of its own (or the
// party's) in progress there.
var errPending = errors.New("a re-INVITE is in progress on the dialog")

// passHold offers the party dir, the media direction the other party just
// asked for (RFC 3264 8.4, RFC 6337 5.3: the hold is offered to the held
// party), so it shows the hold and stops sending what nobody relays. The
// holder's a=sendonly is offered as a=sendonly on the gateway's side: the
// gateway goes on sending what the holder sends and takes nothing from
// the held party; a=inactive as a=inactive; a=sendrecv takes the hold off.
// A phone gets a plain re-offer (reinvite), a browser one from the pion
// PeerConnection of its leg (reofferBrowser), over its WebSocket.
//
// A 491, or a re-INVITE in progress on the dialog, is retried after RFC
// 3261 14.1's random wait, unless current, the other party's direction,
// has moved on meanwhile (its own change is being passed on). Any other
// failure is logged and the call goes on as it was: the gateway stops
// relaying the held direction whether or not the held party heard of it.
func (l *leg) passHold(dir string, current func() string) {
	ctx, cancel := context.WithTimeout(l.c.ctx, passHoldTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		err := l.offerDirection(ctx, dir)
		if err == nil {
			l.log.Info("media direction passed on", "direction", dir, "media", l.kind, "attempts", attempt)
			return
		}
		if !errors.Is(err, errPending) || attempt == passHoldAttempts {
			l.log.Info("hold not passed on", "direction", dir, "attempts", attempt, "error", err)
			return
		}
		wait := time.NewTimer(glareWait(l.ownsCallID(), rand.IntN))
		select {
		case <-ctx.Done():
			wait.Stop()
			l.log.Info("hold not passed on", "direction", dir, "attempts", attempt, "error", context.Cause(ctx))
			return
		case <-wait.C:
		}
		if now := current(); now != dir {
			l.log.Info("hold not passed on: the direction changed again", "direction", dir, "now", now)
			return
		}
	}
}

// offerDirection sends the party one re-offer with dir.
func (l *leg) offerDirection(ctx context.Context, dir string) error {
	if !l.beginReinvite() {
		return errPending
	}
	defer l.endReinvite()
	if l.kind == KindWebRTC {
		return l.reofferBrowser(ctx, dir)
	}
	return l.reinvite(ctx, dir)
}

// ownsCallID reports whether the gateway chose the Call-ID of the leg's
// dialog: it sent the INVITE (a callee's leg, or a transfer target's).
func (l *leg) ownsCallID() bool { return l.uac != nil }

// glareWait is how long a UAC waits before it sends again a re-INVITE
// answered 491 (RFC 3261 14.1): from 2.1 to 4 s when it owns the dialog's
// Call-ID, else up to 2 s, in units of 10 ms. intN(n) returns a random
// number in [0, n).
func glareWait(owner bool, intN func(int) int) time.Duration {
	const unit = 10 * time.Millisecond
	if owner {
		return time.Duration(210+intN(191)) * unit
	}
	return time.Duration(intN(201)) * unit
}

// reinviteRefused is the error for a non-2xx final answer to one of the
// gateway's re-INVITEs; a 491 wraps errPending.
func reinviteRefused(res *sip.Response) error {
	if res.StatusCode == sip.StatusRequestPending {
		return fmt.Errorf("re-INVITE: %d %s: %w", res.StatusCode, res.Reason, errPending)
	}
	return fmt.Errorf("re-INVITE: %d %s", res.StatusCode, res.Reason)
}

// reofferBrowser re-INVITEs a browser, in its dialog and over its
// WebSocket, with a re-offer from the leg's PeerConnection that offers dir
// (see webrtcLeg.directionOffer), and applies the browser's answer.
func (l *leg) reofferBrowser(ctx context.Context, dir string) error {
	l.mu.Lock()
	d, web, ch := l.dlg, l.web, l.chosen
	l.mu.Unlock()
	if d == nil || web == nil {
		return errors.New("no dialog or media")
	}
	offer, body, err := web.directionOffer(ch, dir)
	if err != nil {
		return err
	}
	req := d.newRequest(sip.INVITE, []byte(body), "application/sdp")
	res, err := d.do(ctx, req)
	if err != nil {
		return err
	}
	if !res.IsSuccess() {
		return reinviteRefused(res)
	}
	// The answer is applied before the ACK goes, so the ACK tells the
	// browser the new direction is in force at the gateway.
	answered, err := web.directionAnswer(offer, res.Body(), ch, l.c.g.cfg.weakened(WeakenSDPChecks))
	if err != nil {
		err = fmt.Errorf("re-INVITE answer: %w", err)
	} else {
		l.dir.Store(answered)
	}
	if ackErr := d.ack(req.CSeq().SeqNo, nil); ackErr != nil {
		l.log.Info("ACK to the browser's 200", "error", ackErr)
	}
	return err
}
