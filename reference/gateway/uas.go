package gateway

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/emiago/sipgo/sip"
)

var errFinalSent = errors.New("a final response was already sent")

// uas is the gateway answering an INVITE it received (a caller's leg).
type uas struct {
	invite  *sip.Request // the INVITE, with the gateway's To tag added
	tx      sip.ServerTransaction
	tag     string
	contact *sip.ContactHeader

	mu    sync.Mutex
	final bool
	ok    *sip.Response // the 2xx, retransmitted on UDP until the ACK
	acked chan struct{}
	once  sync.Once
}

func newUAS(g *Gateway, req *sip.Request, tx sip.ServerTransaction) (*uas, error) {
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
	return &uas{
		invite:  invite,
		tx:      tx,
		tag:     tag,
		contact: g.contact(req.Transport(), req.Source()),
		acked:   make(chan struct{}),
	}, nil
}

// respond answers the INVITE; body, if any, is SDP. Once a final response
// went out, further calls fail with errFinalSent.
func (u *uas) respond(code int, reason string, body []byte, headers ...sip.Header) error {
	u.mu.Lock()
	if u.final {
		u.mu.Unlock()
		return errFinalSent
	}
	if code >= 200 {
		u.final = true
	}
	u.mu.Unlock()
	res := sip.NewResponseFromRequest(u.invite, code, reason, body)
	if code > 100 && code < 300 {
		res.AppendHeader(sip.HeaderClone(u.contact))
	}
	if code >= 200 && code < 300 {
		res.AppendHeader(sip.NewHeader("Allow", allowed))
	}
	if body != nil {
		ct := sip.ContentTypeHeader("application/sdp")
		res.AppendHeader(&ct)
	}
	for _, h := range headers {
		res.AppendHeader(h)
	}
	if code >= 200 && code < 300 {
		u.mu.Lock()
		u.ok = res
		u.mu.Unlock()
	}
	if err := u.tx.Respond(res); err != nil {
		return fmt.Errorf("respond %d: %w", code, err)
	}
	return nil
}

func (u *uas) ack() { u.once.Do(func() { close(u.acked) }) }

// lastOK is the 2xx sent, if any.
func (u *uas) lastOK() *sip.Response {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.ok
}

func (u *uas) wasAcked() bool {
	select {
	case <-u.acked:
		return true
	default:
		return false
	}
}

// dialog is the dialog the gateway's 2xx creates (RFC 3261 12.1.1).
func (u *uas) dialog(g *Gateway) *dialog {
	req := u.invite
	transport := strings.ToUpper(req.Transport())
	d := &dialog{
		g:         g,
		transport: transport,
		dest:      requestDest(transport, req.Contact().Address, req.Source()),
		callID:    req.CallID().Value(),
		local:     req.To().AsFrom(),
		remote:    req.From().AsTo(),
		target:    *req.Contact().Address.Clone(),
		remoteSeq: req.CSeq().SeqNo,
	}
	if isWS(transport) {
		d.source = req.Source()
	}
	return d
}
