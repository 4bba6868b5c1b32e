package sipua

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Timing records when the steps of a call's setup happened at this UA.
type Timing struct {
	Invite      time.Time // first INVITE sent (caller) or received (callee)
	Provisional time.Time // first 1xx received (caller) or sent (callee); zero if none
	Answer      time.Time // 2xx received (caller) or sent (callee)
	ACK         time.Time // ACK sent (caller) or received (callee)
}

// Signaling is INVITE to 2xx; zero when either is missing.
func (t Timing) Signaling() time.Duration {
	if t.Invite.IsZero() || t.Answer.IsZero() {
		return 0
	}
	return t.Answer.Sub(t.Invite)
}

// Dialog is a confirmed INVITE dialog (RFC 3261 §12). Its exported fields
// do not change once the Dialog is returned.
type Dialog struct {
	CallID    string
	LocalTag  string
	RemoteTag string
	RemoteSDP []byte // the far end's answer (caller) or offer (callee; the answer in the ACK when the INVITE had none)
	Timing    Timing

	ua  *UA
	key string

	// Guarded by ua.mu.
	local     sip.FromHeader // our URI and tag: From of our requests
	remote    sip.ToHeader   // their URI and tag: To of our requests
	localSeq  uint32
	remoteSeq uint32 // 0: empty
	routes    []sip.Uri
	target    sip.Uri
	localSDP  []byte
	inviteHas bool        // the initial INVITE carried an offer
	pending   *pending2xx // a 2xx of ours awaiting its ACK
	done      chan struct{}
	err       error
	notifies  chan []byte                        // NOTIFY bodies received (see Notifies)
	reoffer   func(offer []byte) ([]byte, error) // answers re-INVITEs (see OnReInvite)
}

// pending2xx is a 2xx we sent to an INVITE, retransmitted on udp until its
// ACK arrives (RFC 3261 §13.3.1.4).
type pending2xx struct {
	cseq      uint32
	raw       []byte
	dst       netip.AddrPort
	interval  time.Duration
	retrans   *time.Timer
	deadline  *time.Timer
	acked     chan struct{}
	initial   bool // the answer to the dialog-creating INVITE
	abandoned bool // Answer's caller gave up waiting: BYE once ACKed
}

// Done is closed when the dialog ends: the far end sent BYE, Bye was
// called, the UA closed, or the 2xx was never ACKed.
func (d *Dialog) Done() <-chan struct{} { return d.done }

// Err says why the dialog ended (ErrRemoteHangup, ErrLocalHangup, ErrClosed,
// ErrNoACK, a transport error); nil while it lasts.
func (d *Dialog) Err() error {
	d.ua.mu.Lock()
	defer d.ua.mu.Unlock()
	return d.err
}

// uacDialog is the dialog a 2xx to our INVITE creates (RFC 3261 §12.1.2).
func (u *UA) uacDialog(inv *sip.Request, res *sip.Response) *Dialog {
	d := &Dialog{
		CallID:    inv.CallID().Value(),
		LocalTag:  tagOf(inv.From().Params),
		RemoteTag: tagOf(res.To().Params),
		ua:        u,
		local:     *sip.HeaderClone(inv.From()).(*sip.FromHeader),
		remote:    *sip.HeaderClone(res.To()).(*sip.ToHeader),
		localSeq:  inv.CSeq().SeqNo,
		target:    *inv.Recipient.Clone(),
		localSDP:  inv.Body(),
		inviteHas: len(inv.Body()) > 0,
		done:      make(chan struct{}),
		notifies:  make(chan []byte, 8),
	}
	if len(res.Body()) > 0 {
		d.RemoteSDP = res.Body()
	}
	for _, h := range slices.Backward(res.GetHeaders("Record-Route")) {
		if rr, ok := h.(*sip.RecordRouteHeader); ok {
			d.routes = append(d.routes, *rr.Address.Clone())
		}
	}
	if c := res.Contact(); c != nil {
		d.target = *c.Address.Clone()
	}
	d.key = dialogKey(d.CallID, d.LocalTag, d.RemoteTag)
	return d
}

// uasDialog is the dialog our 2xx to inv creates (RFC 3261 §12.1.1).
func (u *UA) uasDialog(inv *sip.Request, localTag string) *Dialog {
	to := sip.HeaderClone(inv.To()).(*sip.ToHeader)
	to.Params.Add("tag", localTag)
	from := inv.From()
	d := &Dialog{
		CallID:    inv.CallID().Value(),
		LocalTag:  localTag,
		RemoteTag: tagOf(from.Params),
		ua:        u,
		local:     sip.FromHeader{DisplayName: to.DisplayName, Address: to.Address, Params: to.Params},
		remote:    sip.ToHeader{DisplayName: from.DisplayName, Address: *from.Address.Clone(), Params: from.Params.Clone()},
		remoteSeq: inv.CSeq().SeqNo,
		target:    *from.Address.Clone(),
		inviteHas: len(inv.Body()) > 0,
		done:      make(chan struct{}),
		notifies:  make(chan []byte, 8),
	}
	if d.inviteHas {
		d.RemoteSDP = inv.Body()
	}
	for _, h := range inv.GetHeaders("Record-Route") {
		if rr, ok := h.(*sip.RecordRouteHeader); ok {
			d.routes = append(d.routes, *rr.Address.Clone())
		}
	}
	if c := inv.Contact(); c != nil {
		d.target = *c.Address.Clone()
	}
	d.key = dialogKey(d.CallID, d.LocalTag, d.RemoteTag)
	return d
}

// requestLocked builds an in-dialog request (RFC 3261 §12.2.1.1).
func (d *Dialog) requestLocked(method sip.RequestMethod, cseq uint32, contact bool) *sip.Request {
	ruri, routes := d.target, d.routes
	if len(routes) > 0 && !routes[0].UriParams.Has("lr") { // strict router
		ruri = *routes[0].Clone()
		ruri.Headers = nil
		routes = slices.Concat(routes[1:], []sip.Uri{d.target})
	}
	return d.ua.newRequest(spec{
		method:  method,
		ruri:    ruri,
		routes:  routes,
		from:    d.local,
		to:      d.remote,
		callID:  d.CallID,
		cseq:    cseq,
		contact: contact,
	}, newBranch())
}

// ackFor is the ACK for a 2xx to inv (RFC 3261 §13.2.2.4): a new
// transaction, the INVITE's CSeq number and credentials.
func (d *Dialog) ackFor(inv *sip.Request) *sip.Request {
	ack := d.requestLocked(sip.ACK, inv.CSeq().SeqNo, false)
	for _, name := range []string{"Authorization", "Proxy-Authorization"} {
		sip.CopyHeaders(name, inv, ack)
	}
	return ack
}

// endLocked ends the dialog with err, once; it stays in the table until forgotten.
func (d *Dialog) endLocked(err error) {
	if d.err != nil {
		return
	}
	d.err = err
	close(d.done)
	if p := d.pending; p != nil {
		p.stop()
		d.pending = nil
	}
}

func (p *pending2xx) stop() {
	if p.retrans != nil {
		p.retrans.Stop()
	}
	p.deadline.Stop()
}

func (u *UA) forgetLocked(d *Dialog) {
	if u.dialogs[d.key] == d {
		delete(u.dialogs, d.key)
	}
}

// Bye ends the dialog (RFC 3261 §15.1.1) and waits for the BYE's final
// response; the dialog is over whatever that response is. A non-2xx comes
// back as *StatusError.
func (d *Dialog) Bye(ctx context.Context) error {
	u := d.ua
	u.mu.Lock()
	if d.err != nil {
		err := d.err
		u.mu.Unlock()
		return fmt.Errorf("%w: %w", ErrDialogEnded, err)
	}
	d.localSeq++
	req := d.requestLocked(sip.BYE, d.localSeq, false)
	d.endLocked(ErrLocalHangup)
	u.mu.Unlock()
	defer func() {
		u.mu.Lock()
		u.forgetLocked(d)
		u.mu.Unlock()
	}()
	var auth authState
	for {
		tx, err := u.start(req)
		if err != nil {
			return err
		}
		res, err := u.wait(ctx, tx, nil)
		if err != nil {
			return err
		}
		if res.StatusCode < 300 {
			return nil
		}
		hdrs, ok, err := u.authorize(&auth, req, res)
		if err != nil {
			return err
		}
		if !ok {
			return &StatusError{Method: "BYE", Code: res.StatusCode, Reason: res.Reason}
		}
		u.mu.Lock()
		d.localSeq++
		req = d.requestLocked(sip.BYE, d.localSeq, false)
		u.mu.Unlock()
		for _, h := range hdrs {
			req.AppendHeader(h)
		}
	}
}

// byeAsync ends the dialog and sends a BYE nobody waits for.
func (d *Dialog) byeAsync() {
	u := d.ua
	u.mu.Lock()
	d.localSeq++
	req := d.requestLocked(sip.BYE, d.localSeq, false)
	d.endLocked(ErrLocalHangup)
	u.forgetLocked(d)
	u.mu.Unlock()
	if _, err := u.start(req); err != nil {
		u.log.Debug("BYE failed", "call_id", d.CallID, "err", err)
	}
}

// wait returns tx's final response, passing provisional ones to onProv.
func (u *UA) wait(ctx context.Context, tx *clientTx, onProv func(*sip.Response)) (*sip.Response, error) {
	for {
		select {
		case r := <-tx.prov:
			if onProv != nil {
				onProv(r)
			}
		case <-tx.done:
			return tx.final, tx.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
