package sipua

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Server transaction states (RFC 3261 §17.2, RFC 6026 Accepted).
type stxState int

const (
	stxProceeding stxState = iota // INVITE: 1xx sent, waiting for the TU
	stxCompleted                  // final sent: non-2xx INVITE awaits its ACK; non-INVITE answers retransmissions
	stxConfirmed                  // the ACK arrived (Timer I)
	stxAccepted                   // 2xx sent; the dialog retransmits it (Timer L)
)

// serverTx is one server transaction. Its fields are guarded by UA.mu.
type serverTx struct {
	key      string
	dst      netip.AddrPort // where responses go (udp)
	last     []byte         // resent when the request is retransmitted; nil: absorb silently
	state    stxState
	interval time.Duration
	retrans  *time.Timer // Timer G
	timeout  *time.Timer // Timer H, I, J or L
	inv      *ServerInvite
}

func (tx *serverTx) stopTimers() {
	if tx.retrans != nil {
		tx.retrans.Stop()
	}
	if tx.timeout != nil {
		tx.timeout.Stop()
	}
}

// methods this UA knows but does not implement: 405, not 501 (RFC 3261 §8.2.1).
var knownMethods = map[sip.RequestMethod]bool{
	sip.REGISTER: true, sip.SUBSCRIBE: true, sip.NOTIFY: true, sip.REFER: true, sip.INFO: true,
	sip.MESSAGE: true, sip.PRACK: true, sip.UPDATE: true, sip.PUBLISH: true,
}

// inbound is a request as received: where it came from and where responses go.
type inbound struct {
	req *sip.Request
	src netip.AddrPort // udp source (fills received/rport); zero on ws
	dst netip.AddrPort // udp response destination; zero on ws
	key string         // server transaction key
}

// onRequest runs on the reader goroutine.
func (u *UA) onRequest(req *sip.Request, src netip.AddrPort) {
	if req.Via() == nil || req.From() == nil || req.To() == nil || req.CallID() == nil || req.CSeq() == nil {
		u.log.Debug("request without mandatory headers dropped", "method", req.Method)
		return
	}
	in := inbound{req: req, src: src, dst: responseDest(req, src), key: serverKey(req, req.Method)}
	if req.Method == sip.ACK {
		u.onAck(in)
		return
	}
	u.mu.Lock()
	if tx := u.serverTxs[in.key]; tx != nil { // a retransmission
		last, dst := tx.last, tx.dst
		u.mu.Unlock()
		if last != nil {
			u.sendLogged(last, dst)
		}
		return
	}
	u.mu.Unlock()
	switch {
	case req.CSeq().MethodName != req.Method:
		u.reply(in, 400, "CSeq Method Mismatch")
	case req.Method == sip.CANCEL:
		u.onCancel(in)
	case len(req.GetHeaders("Require")) > 0: // we support no extension (RFC 3261 §8.2.2.3)
		var tags []string
		for _, h := range req.GetHeaders("Require") {
			tags = append(tags, h.Value())
		}
		u.reply(in, 420, "Bad Extension", sip.NewHeader("Unsupported", strings.Join(tags, ", ")))
	case req.Recipient.Scheme != "sip" && req.Recipient.Scheme != "sips":
		u.reply(in, 416, "Unsupported URI Scheme")
	case len(req.Body()) > 0 && req.Method == sip.INVITE && !isSDP(req.GetHeader("Content-Type")):
		u.reply(in, 415, "Unsupported Media Type", sip.NewHeader("Accept", "application/sdp"))
	case tagOf(req.To().Params) != "":
		u.inDialog(in)
	case req.Method == sip.INVITE:
		u.onInvite(in)
	default:
		u.outOfDialog(in)
	}
}

// outOfDialog answers requests that neither create nor belong to a dialog.
func (u *UA) outOfDialog(in inbound) {
	switch m := in.req.Method; {
	case m == sip.OPTIONS:
		u.reply(in, 200, "OK", sip.NewHeader("Allow", allow), sip.NewHeader("Accept", "application/sdp"))
	case m == sip.BYE:
		u.reply(in, 481, "Call/Transaction Does Not Exist")
	case knownMethods[m]:
		u.reply(in, 405, "Method Not Allowed", sip.NewHeader("Allow", allow))
	default:
		u.reply(in, 501, "Not Implemented", sip.NewHeader("Allow", allow))
	}
}

// reply sends a final response outside the INVITE machinery and keeps it
// to answer retransmissions (Timer J on udp; reliable transports need none).
// An INVITE answered this way also absorbs its ACK.
func (u *UA) reply(in inbound, code int, reason string, extra ...sip.Header) {
	res := u.newResponse(in.req, code, reason, newTag(), in.src)
	for _, h := range extra {
		res.AppendHeader(h)
	}
	raw := []byte(res.String())
	if in.req.Method == sip.INVITE {
		u.mu.Lock()
		tx := &serverTx{key: in.key, dst: in.dst}
		if !u.closed {
			u.serverTxs[tx.key] = tx
			u.completeInviteLocked(tx, raw)
		}
		u.mu.Unlock()
	} else if !u.tp.reliable() {
		u.mu.Lock()
		tx := &serverTx{key: in.key, dst: in.dst, last: raw, state: stxCompleted}
		if !u.closed {
			u.serverTxs[tx.key] = tx
			tx.timeout = u.after(64*u.cfg.Timers.T1, func() { u.dropServerTx(tx) })
		}
		u.mu.Unlock()
	}
	u.sendLogged(raw, in.dst)
}

func (u *UA) sendLogged(raw []byte, dst netip.AddrPort) {
	if err := u.send(raw, dst); err != nil {
		u.log.Debug("response not sent", "err", err)
	}
}

func (u *UA) dropServerTx(tx *serverTx) {
	u.mu.Lock()
	defer u.mu.Unlock()
	tx.stopTimers()
	if u.serverTxs[tx.key] == tx {
		delete(u.serverTxs, tx.key)
	}
}

// completeInviteLocked moves an INVITE server transaction to Completed with
// its non-2xx final raw: retransmitted on udp (Timer G) until the ACK,
// given up after Timer H.
func (u *UA) completeInviteLocked(tx *serverTx, raw []byte) {
	t1 := u.cfg.Timers.T1
	tx.stopTimers()
	tx.state, tx.last = stxCompleted, raw
	if !u.tp.reliable() {
		tx.interval = t1
		tx.retrans = u.after(t1, func() { u.retransmitFinal(tx) })
	}
	tx.timeout = u.after(64*t1, func() { u.dropServerTx(tx) })
}

func (u *UA) retransmitFinal(tx *serverTx) {
	u.mu.Lock()
	if tx.state != stxCompleted || u.serverTxs[tx.key] != tx {
		u.mu.Unlock()
		return
	}
	tx.interval = min(2*tx.interval, u.cfg.Timers.T2)
	tx.retrans.Reset(tx.interval)
	raw, dst := tx.last, tx.dst
	u.mu.Unlock()
	u.sendLogged(raw, dst)
}

// onAck matches an ACK to a non-2xx we sent (same transaction) or to a 2xx
// a dialog retransmits (RFC 3261 §17.2.1, §13.3.1.4). Unmatched ACKs are dropped.
func (u *UA) onAck(in inbound) {
	req := in.req
	u.mu.Lock()
	if tx := u.serverTxs[serverKey(req, sip.INVITE)]; tx != nil {
		if tx.state == stxCompleted {
			tx.stopTimers()
			tx.state = stxConfirmed
			if d := u.timerK(); d > 0 { // Timer I = T4 on udp, 0 otherwise
				tx.timeout = u.after(d, func() { u.dropServerTx(tx) })
			} else {
				delete(u.serverTxs, tx.key)
			}
		}
		u.mu.Unlock()
		return
	}
	d := u.dialogs[dialogKey(req.CallID().Value(), tagOf(req.To().Params), tagOf(req.From().Params))]
	if d == nil || d.pending == nil || d.pending.cseq != req.CSeq().SeqNo {
		u.mu.Unlock()
		return
	}
	p := d.pending
	p.stop()
	d.pending = nil
	if p.initial {
		d.Timing.ACK = time.Now()
		if !d.inviteHas && len(req.Body()) > 0 {
			d.RemoteSDP = req.Body()
		}
	}
	close(p.acked)
	u.mu.Unlock()
	if p.abandoned {
		d.byeAsync()
	}
}

// onCancel answers CANCEL 200 and the INVITE 487 (RFC 3261 §9.2).
func (u *UA) onCancel(in inbound) {
	u.mu.Lock()
	tx := u.serverTxs[serverKey(in.req, sip.INVITE)]
	var si *ServerInvite
	if tx != nil {
		si = tx.inv
	}
	u.mu.Unlock()
	if si == nil {
		u.reply(in, 481, "Call/Transaction Does Not Exist")
		return
	}
	u.reply(in, 200, "OK")
	u.mu.Lock()
	if si.final || u.closed { // answered first: the CANCEL has no effect
		u.mu.Unlock()
		return
	}
	si.cancelLocked()
	raw := si.rejectLocked(487, "Request Terminated")
	u.mu.Unlock()
	u.sendLogged(raw, si.dst)
}

// inDialog handles a request with a To tag (RFC 3261 §12.2.2).
func (u *UA) inDialog(in inbound) {
	req := in.req
	u.mu.Lock()
	d := u.dialogs[dialogKey(req.CallID().Value(), tagOf(req.To().Params), tagOf(req.From().Params))]
	if d == nil || (d.err != nil && req.Method != sip.BYE) {
		u.mu.Unlock()
		u.reply(in, 481, "Call/Transaction Does Not Exist")
		return
	}
	cseq := req.CSeq().SeqNo
	if d.remoteSeq != 0 && cseq < d.remoteSeq {
		u.mu.Unlock()
		u.reply(in, 500, "Request Out Of Order")
		return
	}
	d.remoteSeq = cseq
	switch req.Method {
	case sip.BYE:
		if d.err == nil {
			d.endLocked(ErrRemoteHangup)
			u.forgetLocked(d)
		}
		u.mu.Unlock()
		u.reply(in, 200, "OK")
	case sip.INVITE:
		u.reInviteLocked(d, in) // unlocks
	case sip.NOTIFY:
		select {
		case d.notifies <- in.req.Body():
		default:
		}
		u.mu.Unlock()
		u.reply(in, 200, "OK")
	default:
		u.mu.Unlock()
		u.outOfDialog(in)
	}
}

// reInviteLocked answers a re-INVITE. An offer equal to the current remote
// SDP, or none, gets 200 with our current SDP (a session refresh); a new
// offer goes to the dialog's OnReInvite function, whose answer goes in the
// 200, and without one it gets 488 and the session stays as it was (RFC
// 3261 §14.2). Dialog.RemoteSDP stays the first offer. Called with u.mu
// held; releases it.
func (u *UA) reInviteLocked(d *Dialog, in inbound) {
	req := in.req
	if d.pending != nil { // our previous 2xx is not ACKed yet (RFC 3261 §14.2)
		u.mu.Unlock()
		u.reply(in, 500, "Server Internal Error", sip.NewHeader("Retry-After", strconv.Itoa(rand.IntN(11))))
		return
	}
	body := d.localSDP
	if len(req.Body()) > 0 && !bytes.Equal(req.Body(), d.RemoteSDP) {
		reoffer := d.reoffer
		u.mu.Unlock()
		if reoffer == nil {
			u.reply(in, 488, "Not Acceptable Here")
			return
		}
		answer, err := reoffer(req.Body())
		if err != nil {
			u.log.Info("re-INVITE refused", "call_id", d.CallID, "err", err)
			u.reply(in, 488, "Not Acceptable Here")
			return
		}
		body = answer
		u.mu.Lock()
		if d.err != nil || d.pending != nil {
			u.mu.Unlock()
			u.reply(in, 481, "Call/Transaction Does Not Exist")
			return
		}
		d.localSDP = answer
	}
	if c := req.Contact(); c != nil {
		d.target = *c.Address.Clone() // target refresh (RFC 3261 §12.2.2)
	}
	res := u.newResponse(req, 200, "OK", d.LocalTag, in.src)
	res.AppendHeader(u.contact.Clone())
	res.AppendHeader(sip.NewHeader("Allow", allow))
	withBody(res, body)
	raw := []byte(res.String())
	tx := &serverTx{key: in.key, dst: in.dst, state: stxAccepted}
	u.serverTxs[tx.key] = tx
	tx.timeout = u.after(64*u.cfg.Timers.T1, func() { u.dropServerTx(tx) }) // Timer L
	u.await2xxLocked(d, req.CSeq().SeqNo, raw, in.dst, false)
	u.mu.Unlock()
	u.sendLogged(raw, in.dst)
}

// await2xxLocked retransmits a 2xx on udp (T1 doubling up to T2) until its
// ACK; without one in 64*T1 the dialog ends with BYE (RFC 3261 §13.3.1.4).
func (u *UA) await2xxLocked(d *Dialog, cseq uint32, raw []byte, dst netip.AddrPort, initial bool) *pending2xx {
	t1 := u.cfg.Timers.T1
	p := &pending2xx{cseq: cseq, raw: raw, dst: dst, acked: make(chan struct{}), initial: initial}
	if !u.tp.reliable() {
		p.interval = t1
		p.retrans = u.after(t1, func() { u.retransmit2xx(d, p) })
	}
	p.deadline = u.after(64*t1, func() { u.noACK(d, p) })
	d.pending = p
	return p
}

func (u *UA) retransmit2xx(d *Dialog, p *pending2xx) {
	u.mu.Lock()
	if d.pending != p {
		u.mu.Unlock()
		return
	}
	p.interval = min(2*p.interval, u.cfg.Timers.T2)
	p.retrans.Reset(p.interval)
	u.mu.Unlock()
	u.sendLogged(p.raw, p.dst)
}

func (u *UA) noACK(d *Dialog, p *pending2xx) {
	u.mu.Lock()
	if d.pending != p {
		u.mu.Unlock()
		return
	}
	d.endLocked(ErrNoACK)
	u.mu.Unlock()
	u.log.Info("no ACK for 2xx, ending dialog", "call_id", d.CallID)
	d.byeAsync()
}
