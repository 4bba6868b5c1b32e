package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// dialog is the gateway's side of one SIP dialog with one party (RFC 3261
// 12), over any transport. Requests go to dest: for stream transports
// (TCP, TLS, WS, WSS) the connection the party opened, for UDP its Contact.
type dialog struct {
	g         *Gateway
	transport string // UDP, TCP, TLS, WS or WSS
	dest      string // host:port requests are sent to
	source    string // stream transports: the party's connection, which in-dialog requests must arrive on
	callID    string
	local     sip.FromHeader // our URI and tag: From of our requests
	remote    sip.ToHeader   // their URI and tag: To of our requests
	target    sip.Uri        // the party's Contact

	mu        sync.Mutex
	localSeq  uint32
	remoteSeq uint32
}

func (d *dialog) localTag() string  { return tagOf(d.local.Params) }
func (d *dialog) remoteTag() string { return tagOf(d.remote.Params) }

func tagOf(p sip.HeaderParams) string {
	t, _ := p.Get("tag")
	return t
}

func reliable(transport string) bool { return !strings.EqualFold(transport, "UDP") }

// requestDest is where requests to a party go: its connection on stream
// transports, its Contact (when an IP literal) on UDP, else its source.
func requestDest(transport string, contact sip.Uri, source string) string {
	if reliable(transport) {
		return source
	}
	if ip, err := netip.ParseAddr(contact.Host); err == nil {
		port := contact.Port
		if port == 0 {
			port = 5060
		}
		return netip.AddrPortFrom(ip, uint16(port)).String()
	}
	return source
}

// matches reports whether an in-dialog request belongs to this dialog: the
// party's tag in From, ours in To, and on stream transports the same
// connection.
func (d *dialog) matches(req *sip.Request) bool {
	from, to := req.From(), req.To()
	if from == nil || to == nil {
		return false
	}
	if d.source != "" && req.Source() != d.source {
		return false
	}
	return tagOf(from.Params) == d.remoteTag() && tagOf(to.Params) == d.localTag()
}

// acceptSeq checks an in-dialog request's CSeq is not below the last one
// (RFC 3261 12.2.2) and records it.
func (d *dialog) acceptSeq(req *sip.Request) bool {
	cseq := req.CSeq()
	if cseq == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if req.Method != sip.ACK && d.remoteSeq != 0 && cseq.SeqNo < d.remoteSeq {
		return false
	}
	if req.Method != sip.ACK {
		d.remoteSeq = cseq.SeqNo
	}
	return true
}

// newRequest builds an in-dialog request (RFC 3261 12.2.1.1).
func (d *dialog) newRequest(method sip.RequestMethod, body []byte, contentType string, extra ...sip.Header) *sip.Request {
	d.mu.Lock()
	d.localSeq++
	seq := d.localSeq
	d.mu.Unlock()
	return d.request(method, seq, body, contentType, extra...)
}

func (d *dialog) request(method sip.RequestMethod, seq uint32, body []byte, contentType string, extra ...sip.Header) *sip.Request {
	req := sip.NewRequest(method, *d.target.Clone())
	from, to := d.local, d.remote
	callID := sip.CallIDHeader(d.callID)
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(sip.HeaderClone(&from))
	req.AppendHeader(sip.HeaderClone(&to))
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: method})
	req.AppendHeader(&maxFwd)
	if method == sip.INVITE || method == sip.REFER || method == sip.NOTIFY {
		req.AppendHeader(d.g.contact(d.transport, d.dest))
	}
	for _, h := range extra {
		req.AppendHeader(h)
	}
	if body != nil {
		ct := sip.ContentTypeHeader(contentType)
		req.AppendHeader(&ct)
	}
	req.SetBody(body)
	req.SetTransport(d.transport)
	req.SetDestination(d.dest)
	return req
}

// errPartyGone is returned for requests toward a party whose connection is
// closed (browsers cannot be dialled).
var errPartyGone = errors.New("the party's connection is closed")

// do sends an in-dialog request and returns its final response.
func (d *dialog) do(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	return d.g.transact(ctx, req, d.source)
}

// ack sends the ACK for a 2xx to one of our INVITEs in this dialog.
func (d *dialog) ack(seq uint32, creds []sip.Header) error {
	ack := d.request(sip.ACK, seq, nil, "", creds...)
	l := d.g.listener(d.transport, d.dest)
	if l == nil {
		return fmt.Errorf("no %s listener for %s", d.transport, d.dest)
	}
	if err := l.client.WriteRequest(ack, l.options()...); err != nil {
		return fmt.Errorf("ACK: %w", err)
	}
	return nil
}

// transact runs a client transaction to req's destination and returns the
// final response. source, when set, is a connection that must still be
// open (a browser cannot be dialled).
func (g *Gateway) transact(ctx context.Context, req *sip.Request, source string) (*sip.Response, error) {
	if source != "" && !g.connLive(source) {
		return nil, fmt.Errorf("%s: %w", req.Method, errPartyGone)
	}
	l := g.listener(req.Transport(), req.Destination())
	if l == nil {
		return nil, fmt.Errorf("%s: no %s listener for %s", req.Method, req.Transport(), req.Destination())
	}
	tx, err := l.client.TransactionRequest(ctx, req, l.options()...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.Method, err)
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			return res, nil
		case <-tx.Done():
			return nil, fmt.Errorf("%s: %w", req.Method, tx.Err())
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: %w", req.Method, ctx.Err())
		}
	}
}

// bye ends the dialog from the gateway's side and waits for the answer.
func (d *dialog) bye(ctx context.Context) error {
	res, err := d.do(ctx, d.newRequest(sip.BYE, nil, ""))
	if err != nil {
		return err
	}
	if !res.IsSuccess() {
		return fmt.Errorf("BYE: %d %s", res.StatusCode, res.Reason)
	}
	return nil
}
