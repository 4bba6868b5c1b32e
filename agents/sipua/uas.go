package sipua

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/emiago/sipgo/sip"
)

// ServerInvite is an inbound INVITE waiting for this UA's answer. Each one
// must get Answer or Reject (a CANCEL from the caller rejects it with 487).
type ServerInvite struct {
	From   string // the caller's URI
	To     string // the URI called
	CallID string
	Offer  []byte // nil for an offerless INVITE: Answer's SDP is then the offer

	ua       *UA
	req      *sip.Request
	src, dst netip.AddrPort
	tx       *serverTx
	localTag string
	received time.Time
	canceled chan struct{}

	// Guarded by ua.mu.
	final  bool
	provAt time.Time
}

// onInvite takes a dialog-creating INVITE: 100 Trying at once (RFC 3261
// §17.2.1), then Incoming, or 486 when Incoming is full.
func (u *UA) onInvite(in inbound) {
	req := in.req
	s := &ServerInvite{
		From:     req.From().Address.String(),
		To:       req.To().Address.String(),
		CallID:   req.CallID().Value(),
		ua:       u,
		req:      req,
		src:      in.src,
		dst:      in.dst,
		localTag: newTag(),
		received: time.Now(),
		canceled: make(chan struct{}),
	}
	if len(req.Body()) > 0 {
		s.Offer = req.Body()
	}
	trying := []byte(u.newResponse(req, 100, "Trying", "", in.src).String())
	s.tx = &serverTx{key: in.key, dst: in.dst, last: trying, state: stxProceeding, inv: s}
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return
	}
	u.serverTxs[s.tx.key] = s.tx
	u.mu.Unlock()
	u.sendLogged(trying, in.dst)
	select {
	case u.incoming <- s:
	default:
		u.log.Info("incoming queue full, 486", "call_id", s.CallID)
		_ = s.Reject(486, "Busy Here")
	}
}

// Canceled is closed when the caller CANCELs the INVITE (it has then been
// answered 487) or the UA closes.
func (s *ServerInvite) Canceled() <-chan struct{} { return s.canceled }

func (s *ServerInvite) cancelLocked() {
	select {
	case <-s.canceled:
	default:
		close(s.canceled)
	}
}

// errFinalLocked says why no more responses may be sent.
func (s *ServerInvite) errFinalLocked() error {
	if s.ua.closed {
		return ErrClosed
	}
	select {
	case <-s.canceled:
		return ErrCanceled
	default:
		return ErrFinal
	}
}

// response builds a response carrying our tag, and our Contact where it
// establishes or confirms the dialog.
func (s *ServerInvite) response(code int, reason string) *sip.Response {
	res := s.ua.newResponse(s.req, code, reason, s.localTag, s.src)
	if code < 300 {
		res.AppendHeader(s.ua.contact.Clone())
	}
	return res
}

// Ringing sends 180 Ringing.
func (s *ServerInvite) Ringing() error {
	u := s.ua
	u.mu.Lock()
	if s.final || u.closed {
		err := s.errFinalLocked()
		u.mu.Unlock()
		return err
	}
	raw := []byte(s.response(180, "Ringing").String())
	s.tx.last = raw
	if s.provAt.IsZero() {
		s.provAt = time.Now()
	}
	u.mu.Unlock()
	return u.send(raw, s.dst)
}

// Reject sends a final non-2xx (code 300 to 699), retransmitted on udp until
// the caller's ACK.
func (s *ServerInvite) Reject(code int, reason string) error {
	if code < 300 || code > 699 {
		return fmt.Errorf("%w: Reject code %d is not a final non-2xx status", ErrConfig, code)
	}
	u := s.ua
	u.mu.Lock()
	if s.final || u.closed {
		err := s.errFinalLocked()
		u.mu.Unlock()
		return err
	}
	raw := s.rejectLocked(code, reason)
	u.mu.Unlock()
	return u.send(raw, s.dst)
}

func (s *ServerInvite) rejectLocked(code int, reason string) []byte {
	s.final = true
	raw := []byte(s.response(code, reason).String())
	s.ua.completeInviteLocked(s.tx, raw)
	return raw
}

// Answer sends 200 OK with sdp and waits for the ACK, retransmitting the
// 200 on udp. It fails with ErrCanceled if the caller canceled first, and
// with ErrNoACK (after BYE) when no ACK comes in 64*T1. If ctx ends first it
// returns ctx's error and the dialog is ended with BYE once ACKed.
func (s *ServerInvite) Answer(ctx context.Context, sdp []byte) (*Dialog, error) {
	u := s.ua
	u.mu.Lock()
	if s.final || u.closed {
		err := s.errFinalLocked()
		u.mu.Unlock()
		return nil, err
	}
	s.final = true
	res := s.response(200, "OK")
	res.AppendHeader(sip.NewHeader("Allow", allow))
	withBody(res, sdp)
	raw := []byte(res.String())
	d := u.uasDialog(s.req, s.localTag)
	d.localSDP = sdp
	d.Timing = Timing{Invite: s.received, Provisional: s.provAt, Answer: time.Now()}
	u.dialogs[d.key] = d
	tx := s.tx
	tx.stopTimers()
	tx.state, tx.last = stxAccepted, nil // INVITE retransmissions are absorbed; the dialog resends the 2xx
	tx.timeout = u.after(64*u.cfg.Timers.T1, func() { u.dropServerTx(tx) })
	p := u.await2xxLocked(d, s.req.CSeq().SeqNo, raw, s.dst, true)
	u.mu.Unlock()
	if err := u.send(raw, s.dst); err != nil {
		u.mu.Lock()
		d.endLocked(err)
		u.forgetLocked(d)
		u.mu.Unlock()
		return nil, err
	}
	select {
	case <-p.acked:
		return d, nil
	case <-d.done:
		select {
		case <-p.acked:
			return d, nil
		default:
		}
		return nil, fmt.Errorf("sipua: answering %s: %w", s.CallID, d.Err())
	case <-ctx.Done():
		u.mu.Lock()
		defer u.mu.Unlock()
		select {
		case <-p.acked:
			return d, nil
		default:
		}
		p.abandoned = true
		return nil, fmt.Errorf("sipua: answering %s: %w", s.CallID, ctx.Err())
	}
}
