package sipua

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// cancelWait bounds how long Invite waits for the 487 after sending CANCEL;
// whatever arrives later is still handled (a late 2xx is ACKed and BYEd).
const cancelWait = 2 * time.Second

// targetURI turns Invite's to (a user part or a full URI) into a URI.
func (u *UA) targetURI(to string) (sip.Uri, error) {
	if to == "" {
		return sip.Uri{}, fmt.Errorf("%w: empty INVITE target", ErrConfig)
	}
	if i := strings.IndexByte(to, ':'); i > 0 && !strings.ContainsAny(to[:i], "@;") {
		var uri sip.Uri
		if err := sip.ParseUri(to, &uri); err != nil {
			return sip.Uri{}, fmt.Errorf("%w: INVITE target %q: %w", ErrConfig, to, err)
		}
		return uri, nil
	}
	if strings.ContainsAny(to, "@:;<> \t\r\n") {
		return sip.Uri{}, fmt.Errorf("%w: INVITE target %q is neither a user part nor a URI", ErrConfig, to)
	}
	return sip.Uri{Scheme: "sip", User: to, Host: u.cfg.Domain}, nil
}

// Invite calls to (a user part, completed with Config.Domain, or a full
// URI) with an SDP offer (nil for an offerless INVITE). It returns once a
// 2xx arrived and was ACKed. A non-2xx final is *StatusError; 401 and 407
// are answered with digest credentials. When ctx ends while the call is
// pending, Invite sends CANCEL (after the first 1xx, RFC 3261 §9.1), waits
// briefly for the 487 and returns ctx's error; a 2xx that still arrives is
// ACKed and ended with BYE.
func (u *UA) Invite(ctx context.Context, to string, offer []byte) (*Dialog, error) {
	target, err := u.targetURI(to)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := spec{
		method:  sip.INVITE,
		ruri:    target,
		from:    sip.FromHeader{Address: u.aor, Params: sip.NewParams()},
		to:      sip.ToHeader{Address: sip.Uri{Scheme: target.Scheme, User: target.User, Host: target.Host, Port: target.Port}},
		callID:  token(),
		cseq:    1,
		contact: true,
		body:    offer,
	}
	if target.Scheme != "sip" && target.Scheme != "sips" {
		s.to.Address = target
	}
	s.from.Params.Add("tag", newTag())
	allowHdr := sip.NewHeader("Allow", allow)
	var timing Timing
	var auth authState
	var creds []sip.Header
	for {
		s.headers = append([]sip.Header{allowHdr}, creds...)
		req := u.newRequest(s, newBranch())
		if timing.Invite.IsZero() {
			timing.Invite = time.Now()
		}
		tx, err := u.start(req)
		if err != nil {
			return nil, err
		}
		res, err := u.wait(ctx, tx, nil)
		if err != nil && ctx.Err() != nil {
			return nil, u.abandon(tx, target, err)
		}
		if err != nil {
			return nil, err
		}
		u.mu.Lock()
		if timing.Provisional.IsZero() {
			timing.Provisional = tx.provAt
		}
		d := tx.dialog
		u.mu.Unlock()
		if res.StatusCode < 300 {
			timing.Answer = tx.finalAt
			timing.ACK = tx.finalAt
			d.Timing = timing
			u.log.Debug("call answered", "call_id", d.CallID, "to", target.String())
			return d, nil
		}
		hdrs, ok, err := u.authorize(&auth, req, res)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, &StatusError{Method: "INVITE", Code: res.StatusCode, Reason: res.Reason}
		}
		creds = hdrs
		s.cseq++
	}
}

// abandon handles the caller giving up on a pending INVITE: CANCEL now if a
// 1xx arrived (else the reader sends it on the first 1xx), wait briefly for
// the final response, and return why.
func (u *UA) abandon(tx *clientTx, target sip.Uri, cause error) error {
	u.mu.Lock()
	tx.abandoned = true
	var cancel *sip.Request
	var orphan *Dialog
	select {
	case <-tx.done:
		if tx.final != nil && tx.final.StatusCode < 300 {
			orphan = tx.dialog // answered just as the caller gave up
		}
	default:
		if tx.state == ctxProceeding && !tx.cancelSent {
			tx.cancelSent = true
			cancel = u.cancelFor(tx.req)
			tx.timeout = u.after(64*u.cfg.Timers.T1, func() { u.expire(tx, true) })
		}
	}
	u.mu.Unlock()
	if orphan != nil {
		orphan.byeAsync()
	}
	if cancel != nil {
		u.sendCancel(cancel)
	}
	t := time.NewTimer(min(cancelWait, 64*u.cfg.Timers.T1))
	defer t.Stop()
	select {
	case <-tx.done:
	case <-t.C:
		return fmt.Errorf("sipua: INVITE to %s abandoned, no final response yet: %w", &target, cause)
	}
	switch res := tx.final; {
	case res == nil:
		return fmt.Errorf("sipua: INVITE to %s abandoned (%w): %w", &target, tx.err, cause)
	case res.StatusCode < 300:
		return fmt.Errorf("sipua: INVITE to %s abandoned, answered meanwhile and ended with BYE: %w", &target, cause)
	default:
		return fmt.Errorf("sipua: INVITE to %s abandoned: %w (%w)", &target, cause,
			&StatusError{Method: "INVITE", Code: res.StatusCode, Reason: res.Reason})
	}
}
