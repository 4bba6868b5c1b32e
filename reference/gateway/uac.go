package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// cancelWait bounds how long a canceled INVITE waits for its 487.
const cancelWait = 4 * time.Second

// errCanceled ends an INVITE the gateway gave up on.
var errCanceled = errors.New("INVITE canceled")

// uac is an INVITE the gateway sent (a callee's leg, until answered).
type uac struct {
	g         *Gateway
	l         *sipListener
	transport string
	dest      string
	source    string // WS party: the connection it must still be on
	req       *sip.Request
	tx        sip.ClientTransaction

	stop     chan struct{} // closed by abandon
	stopOnce sync.Once
}

// outbound describes an INVITE to send.
type outbound struct {
	target  binding
	from    sip.FromHeader // with the gateway's tag
	to      sip.ToHeader
	callID  string
	maxFwd  uint32
	body    []byte
	headers []sip.Header
}

// sendInvite starts an INVITE toward a registered contact.
func (g *Gateway) sendInvite(ctx context.Context, o outbound) (*uac, error) {
	transport := strings.ToUpper(o.target.Transport)
	dest := requestDest(transport, o.target.Contact, o.target.Source)
	u := &uac{g: g, transport: transport, dest: dest, stop: make(chan struct{})}
	if isWS(transport) {
		u.source = o.target.Source
		if !g.connLive(u.source) {
			return nil, fmt.Errorf("INVITE: %w", errPartyGone)
		}
	}
	u.l = g.listener(transport, dest)
	if u.l == nil {
		return nil, fmt.Errorf("INVITE: no %s listener", transport)
	}
	req := sip.NewRequest(sip.INVITE, *o.target.Contact.Clone())
	from, to := o.from, o.to
	callID := sip.CallIDHeader(o.callID)
	maxFwd := sip.MaxForwardsHeader(o.maxFwd)
	ct := sip.ContentTypeHeader("application/sdp")
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
	req.AppendHeader(&maxFwd)
	req.AppendHeader(g.contact(transport, dest))
	req.AppendHeader(sip.NewHeader("Allow", allowed))
	for _, h := range o.headers {
		req.AppendHeader(h)
	}
	req.AppendHeader(&ct)
	req.SetBody(o.body)
	req.SetTransport(transport)
	req.SetDestination(dest)
	tx, err := u.l.client.TransactionRequest(ctx, req, u.l.options()...)
	if err != nil {
		return nil, fmt.Errorf("INVITE: %w", err)
	}
	u.req, u.tx = req, tx
	return u, nil
}

// abandon gives the INVITE up: CANCEL once it is proceeding (RFC 3261 9.1).
func (u *uac) abandon() { u.stopOnce.Do(func() { close(u.stop) }) }

// wait returns the INVITE's final response, calling onProvisional for each
// 1xx. After abandon (or ctx's end) it CANCELs and waits a little for the
// 487; a 2xx that still comes is returned, and the caller must ACK and BYE it.
func (u *uac) wait(ctx context.Context, onProvisional func(*sip.Response)) (*sip.Response, error) {
	proceeding, canceling := false, false
	var cancelTx sip.ClientTransaction
	var giveUp <-chan time.Time
	defer func() {
		if cancelTx != nil {
			cancelTx.Terminate()
		}
	}()
	startCancel := func() {
		canceling = true
		if giveUp == nil {
			giveUp = time.After(cancelWait)
		}
		if proceeding && cancelTx == nil {
			cancelTx = u.sendCancel()
		}
	}
	done, stop := ctx.Done(), u.stop
	for {
		select {
		case res := <-u.tx.Responses():
			if res.IsProvisional() {
				proceeding = true
				if canceling {
					startCancel()
				} else if onProvisional != nil {
					onProvisional(res)
				}
				continue
			}
			return res, nil
		case <-u.tx.Done():
			if err := u.tx.Err(); err != nil {
				return nil, fmt.Errorf("INVITE: %w", err)
			}
			return nil, errors.New("INVITE: transaction ended without a final response")
		case <-stop:
			stop = nil
			startCancel()
		case <-done:
			done = nil
			startCancel()
		case <-giveUp:
			u.tx.Terminate()
			return nil, errCanceled
		}
	}
}

// sendCancel starts the CANCEL of the INVITE (same Via branch).
func (u *uac) sendCancel() sip.ClientTransaction {
	inv := u.req
	c := sip.NewRequest(sip.CANCEL, *inv.Recipient.Clone())
	c.AppendHeader(sip.HeaderClone(inv.Via()))
	maxFwd := sip.MaxForwardsHeader(70)
	c.AppendHeader(&maxFwd)
	c.AppendHeader(sip.HeaderClone(inv.From()))
	c.AppendHeader(sip.HeaderClone(inv.To()))
	c.AppendHeader(sip.HeaderClone(inv.CallID()))
	c.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	c.SetBody(nil)
	c.SetTransport(inv.Transport())
	c.SetDestination(inv.Destination())
	c.Laddr = inv.Laddr
	keep := func(*sipgo.Client, *sip.Request) error { return nil }
	tx, err := u.l.client.TransactionRequest(context.Background(), c, keep)
	if err != nil {
		u.g.log.Debug("CANCEL not sent", "call_id", inv.CallID().Value(), "error", err)
		return nil
	}
	return tx
}

// dialog is the dialog a 2xx creates (RFC 3261 12.1.2); it ACKs the 2xx and
// every retransmission of it.
func (u *uac) dialog(res *sip.Response) (*dialog, error) {
	target := *u.req.Recipient.Clone()
	if c := res.Contact(); c != nil {
		target = *c.Address.Clone()
	}
	d := &dialog{
		g:         u.g,
		transport: u.transport,
		dest:      u.dest,
		source:    u.source,
		callID:    u.req.CallID().Value(),
		local:     *sip.HeaderClone(u.req.From()).(*sip.FromHeader),
		remote:    *sip.HeaderClone(res.To()).(*sip.ToHeader),
		target:    target,
		localSeq:  u.req.CSeq().SeqNo,
	}
	if !reliable(u.transport) {
		d.dest = requestDest(u.transport, target, u.dest)
	}
	seq := u.req.CSeq().SeqNo
	u.tx.OnRetransmission(func(*sip.Response) {
		if err := d.ack(seq, nil); err != nil {
			u.g.log.Debug("re-ACK", "call_id", d.callID, "error", err)
		}
	})
	return d, d.ack(seq, nil)
}

// finish ends the client transaction once its 2xx was ACKed (or it failed).
func (u *uac) finish() { u.tx.Terminate() }
