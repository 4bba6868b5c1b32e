package sipua

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Client transaction states (RFC 3261 §17.1, RFC 6026 Accepted).
type ctxState int

const (
	ctxCalling    ctxState = iota // INVITE Calling, non-INVITE Trying
	ctxProceeding                 // a 1xx arrived
	ctxCompleted                  // non-2xx final (or non-INVITE final): absorbing retransmissions
	ctxAccepted                   // INVITE 2xx: ACKing retransmitted 2xx
	ctxTerminated
)

// clientTx is one client transaction. Its fields are guarded by UA.mu.
type clientTx struct {
	key      string
	req      *sip.Request
	raw      []byte
	state    ctxState
	interval time.Duration
	retrans  *time.Timer // A or E
	timeout  *time.Timer // B or F, then D, K or M

	prov  chan *sip.Response // provisional responses for the waiter; dropped when full
	done  chan struct{}      // closed once final or err is set
	final *sip.Response
	err   error

	provAt, finalAt time.Time

	// INVITE only.
	acks       map[string][]byte // ACK sent for each 2xx, by To tag, resent on retransmissions
	ackNon2xx  []byte
	abandoned  bool // the caller gave up: CANCEL on the first 1xx, ACK and BYE any 2xx
	cancelSent bool
	dialog     *Dialog // made from the first 2xx, already ACKed
}

func (tx *clientTx) invite() bool { return tx.req.Method == sip.INVITE }

func (tx *clientTx) stopTimers() {
	if tx.retrans != nil {
		tx.retrans.Stop()
	}
	if tx.timeout != nil {
		tx.timeout.Stop()
	}
}

// nextInterval is the retransmission interval after cur (RFC 3261 §17.1.1.2,
// §17.1.2.2): INVITE doubles without bound (Timer B ends it), non-INVITE
// doubles up to T2, and is T2 once a provisional response arrived.
func nextInterval(cur, t2 time.Duration, invite, proceeding bool) time.Duration {
	switch {
	case invite:
		return 2 * cur
	case proceeding:
		return t2
	default:
		return min(2*cur, t2)
	}
}

// start sends req in a new client transaction.
func (u *UA) start(req *sip.Request) (*clientTx, error) {
	tx := &clientTx{
		key:  clientKey(branchOf(req), req.Method),
		req:  req,
		raw:  []byte(req.String()),
		prov: make(chan *sip.Response, 4),
		done: make(chan struct{}),
	}
	t1 := u.cfg.Timers.T1
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil, ErrClosed
	}
	if u.broken != nil {
		u.mu.Unlock()
		return nil, u.broken
	}
	u.clientTxs[tx.key] = tx
	if !u.tp.reliable() {
		tx.interval = t1
		tx.retrans = u.after(t1, func() { u.retransmit(tx) })
	}
	tx.timeout = u.after(64*t1, func() { u.expire(tx, true) })
	u.mu.Unlock()
	if err := u.send(tx.raw, netip.AddrPort{}); err != nil {
		u.mu.Lock()
		u.finishLocked(tx, nil, err)
		u.removeLocked(tx)
		u.mu.Unlock()
		return nil, err
	}
	return tx, nil
}

func (u *UA) retransmit(tx *clientTx) {
	u.mu.Lock()
	live := tx.state == ctxCalling || (tx.state == ctxProceeding && !tx.invite())
	if !live || u.clientTxs[tx.key] != tx {
		u.mu.Unlock()
		return
	}
	tx.interval = nextInterval(tx.interval, u.cfg.Timers.T2, tx.invite(), tx.state == ctxProceeding)
	tx.retrans.Reset(tx.interval)
	raw := tx.raw
	u.mu.Unlock()
	if err := u.send(raw, netip.AddrPort{}); err != nil {
		u.log.Debug("retransmission failed", "err", err)
	}
}

// expire ends tx when its timer fires: a timeout (B, F, or the wait after a
// CANCEL) when waiting, else the end of absorbing retransmissions (D, K, M).
func (u *UA) expire(tx *clientTx, waiting bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.clientTxs[tx.key] != tx {
		return
	}
	if waiting {
		err := fmt.Errorf("%w: %s to %s (64*T1 = %s)", ErrTimeout, tx.req.Method, &tx.req.Recipient, 64*u.cfg.Timers.T1)
		if !u.heard.Load() {
			err = fmt.Errorf("%w: nothing ever answered %s: %w", ErrUnreachable, u.cfg.Server, err)
		}
		u.finishLocked(tx, nil, err)
	}
	u.removeLocked(tx)
}

// finishLocked delivers the outcome to the waiter, once.
func (u *UA) finishLocked(tx *clientTx, res *sip.Response, err error) {
	select {
	case <-tx.done:
		return
	default:
	}
	tx.final, tx.err, tx.finalAt = res, err, time.Now()
	close(tx.done)
}

func (u *UA) removeLocked(tx *clientTx) {
	tx.state = ctxTerminated
	tx.stopTimers()
	if u.clientTxs[tx.key] == tx {
		delete(u.clientTxs, tx.key)
	}
}

// linger keeps tx to absorb retransmissions for d, or removes it now.
func (u *UA) lingerLocked(tx *clientTx, d time.Duration) {
	if tx.retrans != nil {
		tx.retrans.Stop()
	}
	tx.timeout.Stop()
	if d == 0 {
		delete(u.clientTxs, tx.key)
		return
	}
	tx.timeout = u.after(d, func() { u.expire(tx, false) })
}

// onResponse runs on the reader goroutine.
func (u *UA) onResponse(res *sip.Response) {
	cseq := res.CSeq()
	if cseq == nil || res.To() == nil || res.From() == nil || res.CallID() == nil {
		return
	}
	u.mu.Lock()
	tx := u.clientTxs[clientKey(branchOf(res), cseq.MethodName)]
	if tx == nil {
		u.mu.Unlock()
		u.log.Debug("stray response dropped", "status", res.StatusCode, "call_id", res.CallID().Value())
		return
	}
	var out [][]byte // sent once the lock is released
	var cancel *sip.Request
	var orphan *Dialog
	switch {
	case res.StatusCode < 200:
		if tx.state == ctxCalling {
			tx.state = ctxProceeding
			if tx.provAt.IsZero() {
				tx.provAt = time.Now()
			}
			if tx.invite() { // Timer A stops; Timer B does not run in Proceeding
				if tx.retrans != nil {
					tx.retrans.Stop()
				}
				tx.timeout.Stop()
			}
		}
		if tx.invite() && tx.abandoned && !tx.cancelSent && tx.state == ctxProceeding {
			tx.cancelSent = true
			cancel = u.cancelFor(tx.req)
			tx.timeout = u.after(64*u.cfg.Timers.T1, func() { u.expire(tx, true) })
		}
		select {
		case tx.prov <- res:
		default:
		}
	case tx.invite() && res.StatusCode < 300:
		tag := tagOf(res.To().Params)
		if ack, ok := tx.acks[tag]; ok {
			out = append(out, ack) // a retransmitted 2xx (RFC 3261 §13.2.2.4)
			break
		}
		d := u.uacDialog(tx.req, res)
		if existing := u.dialogs[d.key]; existing != nil && tagOf(tx.req.To().Params) != "" {
			d = existing // the 2xx to a re-INVITE: the dialog goes on
		}
		ack := []byte(d.ackFor(tx.req).String())
		if tx.acks == nil {
			tx.acks = make(map[string][]byte)
		}
		tx.acks[tag] = ack
		out = append(out, ack)
		if tx.state == ctxCalling || tx.state == ctxProceeding {
			tx.state = ctxAccepted
			tx.dialog = d
			u.finishLocked(tx, res, nil)
			u.lingerLocked(tx, 64*u.cfg.Timers.T1) // Timer M (RFC 6026)
			if tx.abandoned {
				orphan = d
			} else {
				u.dialogs[d.key] = d
			}
		} else {
			orphan = d // a second 2xx from a fork, or one after the caller gave up
		}
	case tx.invite():
		if tx.state == ctxCompleted {
			out = append(out, tx.ackNon2xx)
			break
		}
		if tx.state == ctxAccepted {
			break
		}
		tx.state = ctxCompleted
		tx.ackNon2xx = []byte(u.ackNon2xx(tx.req, res).String())
		out = append(out, tx.ackNon2xx)
		u.finishLocked(tx, res, nil)
		u.lingerLocked(tx, u.timerD())
	default:
		if tx.state == ctxCompleted {
			break
		}
		tx.state = ctxCompleted
		u.finishLocked(tx, res, nil)
		u.lingerLocked(tx, u.timerK())
	}
	u.mu.Unlock()
	for _, b := range out {
		if err := u.send(b, netip.AddrPort{}); err != nil {
			u.log.Debug("ACK failed", "err", err)
		}
	}
	if cancel != nil {
		u.sendCancel(cancel)
	}
	if orphan != nil {
		u.log.Info("ending unwanted 2xx", "call_id", orphan.CallID)
		orphan.byeAsync()
	}
}

// timerD is how long a completed INVITE transaction absorbs retransmitted finals.
func (u *UA) timerD() time.Duration {
	if u.tp.reliable() {
		return 0
	}
	return max(32*time.Second, 64*u.cfg.Timers.T1)
}

// timerK is how long a completed non-INVITE transaction absorbs retransmissions.
func (u *UA) timerK() time.Duration {
	if u.tp.reliable() {
		return 0
	}
	return u.cfg.Timers.T4
}

// ackNon2xx is the transaction's ACK for a non-2xx final (RFC 3261 §17.1.1.3).
func (u *UA) ackNon2xx(inv *sip.Request, res *sip.Response) *sip.Request {
	ack := sip.NewRequest(sip.ACK, *inv.Recipient.Clone())
	ack.AppendHeader(sip.HeaderClone(inv.Via()))
	mf := sip.MaxForwardsHeader(70)
	ack.AppendHeader(&mf)
	for _, h := range inv.GetHeaders("Route") {
		ack.AppendHeader(sip.HeaderClone(h))
	}
	ack.AppendHeader(sip.HeaderClone(inv.From()))
	ack.AppendHeader(sip.HeaderClone(res.To()))
	ack.AppendHeader(sip.HeaderClone(inv.CallID()))
	ack.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.ACK})
	ack.AppendHeader(sip.NewHeader("User-Agent", u.cfg.UserAgent))
	ack.SetBody(nil)
	return ack
}

// cancelFor builds the CANCEL for a pending INVITE (RFC 3261 §9.1).
func (u *UA) cancelFor(inv *sip.Request) *sip.Request {
	c := sip.NewRequest(sip.CANCEL, *inv.Recipient.Clone())
	c.AppendHeader(sip.HeaderClone(inv.Via()))
	mf := sip.MaxForwardsHeader(70)
	c.AppendHeader(&mf)
	for _, h := range inv.GetHeaders("Route") {
		c.AppendHeader(sip.HeaderClone(h))
	}
	c.AppendHeader(sip.HeaderClone(inv.From()))
	c.AppendHeader(sip.HeaderClone(inv.To()))
	c.AppendHeader(sip.HeaderClone(inv.CallID()))
	c.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	c.AppendHeader(sip.NewHeader("User-Agent", u.cfg.UserAgent))
	c.SetBody(nil)
	return c
}

// sendCancel starts a CANCEL transaction nobody waits for.
func (u *UA) sendCancel(c *sip.Request) {
	if _, err := u.start(c); err != nil {
		u.log.Debug("CANCEL failed", "err", err)
	}
}
