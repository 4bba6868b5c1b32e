package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

var (
	errFinalSent   = errors.New("a final response was already sent")
	errBrowserGone = errors.New("the browser's WebSocket is closed")
)

// browserLeg is the UAS half of a call toward the browser: the dialog the
// browser's INVITE opened over its WebSocket.
type browserLeg struct {
	invite  *sip.Request // the INVITE, with the gateway's To tag added
	tx      sip.ServerTransaction
	source  string  // the WebSocket peer the INVITE came from
	target  sip.Uri // the browser's Contact (remote target)
	contact sip.ContactHeader
	tag     string // the gateway's To tag

	mu    sync.Mutex
	final bool
	acked bool
	cseq  uint32 // last CSeq of the gateway's requests in this dialog
}

func newBrowserLeg(req *sip.Request, tx sip.ServerTransaction, contact sip.ContactHeader) (*browserLeg, error) {
	c := req.Contact()
	if c == nil || c.Address.Wildcard {
		return nil, errors.New("INVITE has no Contact")
	}
	if _, ok := req.From().Params.Get("tag"); !ok {
		return nil, errors.New("INVITE From has no tag")
	}
	invite := req.Clone()
	tag := sip.GenerateTagN(16)
	invite.To().Params.Add("tag", tag)
	return &browserLeg{
		invite:  invite,
		tx:      tx,
		source:  req.Source(),
		target:  *c.Address.Clone(),
		contact: contact,
		tag:     tag,
	}, nil
}

// respond answers the INVITE; body, if any, is SDP. Once a final response
// went out, further calls fail with errFinalSent.
func (b *browserLeg) respond(code int, reason string, body []byte, headers ...sip.Header) error {
	b.mu.Lock()
	if b.final {
		b.mu.Unlock()
		return errFinalSent
	}
	if code >= 200 {
		b.final = true
	}
	b.mu.Unlock()
	res := sip.NewResponseFromRequest(b.invite, code, reason, body)
	if code >= 200 && code < 300 {
		res.AppendHeader(sip.HeaderClone(&b.contact))
	}
	if body != nil {
		ct := sip.ContentTypeHeader("application/sdp")
		res.AppendHeader(&ct)
	}
	for _, h := range headers {
		res.AppendHeader(h)
	}
	if err := b.tx.Respond(res); err != nil {
		return fmt.Errorf("respond %d to browser: %w", code, err)
	}
	return nil
}

// matches reports whether an in-dialog request (ACK, BYE) belongs to this
// leg: same tags, and sent down the same WebSocket as the INVITE.
func (b *browserLeg) matches(req *sip.Request) bool {
	from, to := req.From(), req.To()
	if from == nil || to == nil || req.Source() != b.source {
		return false
	}
	fromTag, _ := from.Params.Get("tag")
	toTag, _ := to.Params.Get("tag")
	browserTag, _ := b.invite.From().Params.Get("tag")
	return fromTag == browserTag && toTag == b.tag
}

func (b *browserLeg) ack() {
	b.mu.Lock()
	b.acked = true
	b.mu.Unlock()
}

func (b *browserLeg) wasAcked() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.acked
}

// bye ends the dialog from the gateway's side and waits for the answer.
func (b *browserLeg) bye(ctx context.Context, client *sipgo.Client, live func(remote string) bool) error {
	if !live(b.source) {
		return errBrowserGone
	}
	b.mu.Lock()
	b.cseq++
	cseq := b.cseq
	b.mu.Unlock()

	req := sip.NewRequest(sip.BYE, b.target)
	from := b.invite.To().AsFrom()
	to := b.invite.From().AsTo()
	callID := sip.CallIDHeader(b.invite.CallID().Value())
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: sip.BYE})
	req.AppendHeader(&maxFwd)
	req.SetBody(nil)
	req.SetTransport("WS")
	req.SetDestination(b.source)

	tx, err := client.TransactionRequest(ctx, req, sipgo.ClientRequestAddVia)
	if err != nil {
		return fmt.Errorf("BYE to browser: %w", err)
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			if !res.IsSuccess() {
				return fmt.Errorf("BYE to browser: %d %s", res.StatusCode, res.Reason)
			}
			return nil
		case <-tx.Done():
			return fmt.Errorf("BYE to browser: %w", tx.Err())
		case <-ctx.Done():
			return fmt.Errorf("BYE to browser: %w", ctx.Err())
		}
	}
}
