package gateway

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/icholy/digest"
)

// testBrowser is the SIP half of a browser: a WebSocket (subprotocol sip)
// carrying messages built with sipgo's sip package. It answers BYEs from
// the gateway with 200 and reports them on byes; other requests from the
// gateway (re-INVITEs, ACKs) go to requests, unanswered, dropped when
// nobody reads.
type testBrowser struct {
	t        *testing.T
	user     string
	password string // answers digest challenges when set
	domain   string
	host     string // its random <token>.invalid host
	conn     net.Conn
	rw       io.ReadWriter
	wmu      sync.Mutex
	res      chan *sip.Response
	byes     chan *sip.Request
	requests chan *sip.Request
	readers  sync.WaitGroup
}

func dialBrowser(ctx context.Context, t *testing.T, url, user, domain string) *testBrowser {
	t.Helper()
	d := ws.Dialer{Protocols: []string{"sip"}}
	conn, br, hs, err := d.Dial(ctx, url)
	if err != nil {
		t.Fatalf("websocket dial %s: %v", url, err)
	}
	if hs.Protocol != "sip" {
		t.Fatalf("101 selected subprotocol %q, want sip", hs.Protocol)
	}
	var rw io.ReadWriter = conn
	if br != nil {
		rw = struct {
			io.Reader
			io.Writer
		}{io.MultiReader(br, conn), conn}
	}
	b := &testBrowser{
		t: t, user: user, domain: domain, host: strings.ToLower(rand.Text()[:10]) + ".invalid",
		conn: conn, rw: rw, res: make(chan *sip.Response, 16), byes: make(chan *sip.Request, 4),
		requests: make(chan *sip.Request, 16),
	}
	b.readers.Go(b.read)
	t.Cleanup(b.close)
	return b
}

func (b *testBrowser) close() {
	_ = b.conn.Close()
	b.readers.Wait()
}

func (b *testBrowser) read() {
	for {
		data, _, err := wsutil.ReadServerData(b.rw)
		if err != nil {
			return
		}
		msg, err := sip.ParseMessage(data)
		if err != nil {
			b.t.Errorf("browser got unparsable message: %v\n%s", err, data)
			continue
		}
		switch m := msg.(type) {
		case *sip.Response:
			b.res <- m
		case *sip.Request:
			if m.Method != sip.BYE {
				select {
				case b.requests <- m:
				default:
				}
				continue
			}
			if err := b.write(sip.NewResponseFromRequest(m, 200, "OK", nil)); err != nil {
				b.t.Errorf("browser 200 to BYE: %v", err)
			}
			b.byes <- m
		}
	}
}

func (b *testBrowser) write(m sip.Message) error {
	b.wmu.Lock()
	defer b.wmu.Unlock()
	return wsutil.WriteClientText(b.conn, []byte(m.String()))
}

func (b *testBrowser) aor(user string) sip.Uri {
	return sip.Uri{Scheme: "sip", User: user, Host: b.domain}
}

func (b *testBrowser) contact() *sip.ContactHeader {
	p := sip.NewParams()
	p.Add("transport", "ws")
	return &sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: strings.ToLower(rand.Text()[:8]), Host: b.host, UriParams: p}}
}

// testDialog is the browser's view of one Call-ID.
type testDialog struct {
	callID  string
	fromTag string
	toTag   string // learned from the answer
	remote  string // the To user
	cseq    uint32
}

func newDialog(remote string) *testDialog {
	return &testDialog{callID: rand.Text(), fromTag: strings.ToLower(rand.Text()[:12]), remote: remote}
}

// request builds a request of the dialog; ruri defaults to the To AOR.
func (b *testBrowser) request(method sip.RequestMethod, d *testDialog, ruri sip.Uri, body []byte) *sip.Request {
	if method != sip.ACK {
		d.cseq++
	}
	req := sip.NewRequest(method, ruri)
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "WS", Host: b.host, Params: sip.NewParams()}
	via.Params.Add("branch", sip.GenerateBranch())
	from := &sip.FromHeader{Address: b.aor(b.user), Params: sip.NewParams()}
	from.Params.Add("tag", d.fromTag)
	to := &sip.ToHeader{Address: b.aor(d.remote), Params: sip.NewParams()}
	if d.toTag != "" {
		to.Params.Add("tag", d.toTag)
	}
	callID := sip.CallIDHeader(d.callID)
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(via)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: d.cseq, MethodName: method})
	req.AppendHeader(&maxFwd)
	req.AppendHeader(b.contact())
	if body != nil {
		ct := sip.ContentTypeHeader("application/sdp")
		req.AppendHeader(&ct)
	}
	req.SetBody(body)
	return req
}

// transact sends req and returns every response up to the final one,
// calling onProvisional, if set, for each 1xx as it arrives. A 401 to a
// request other than INVITE is answered once with credentials, when the
// browser has a password.
func (b *testBrowser) transact(ctx context.Context, t *testing.T, req *sip.Request, onProvisional ...func(*sip.Response)) []*sip.Response {
	t.Helper()
	got := b.transactOnce(ctx, t, req, onProvisional...)
	final := got[len(got)-1]
	if final.StatusCode != 401 || b.password == "" || req.Method == sip.INVITE || req.GetHeader("Authorization") != nil {
		return got
	}
	retry := b.withCredentials(t, req, final, req.CSeq().SeqNo+1)
	return append(got, b.transactOnce(ctx, t, retry, onProvisional...)...)
}

// withCredentials returns req as a new transaction with CSeq seq and an
// Authorization for the first challenge of res.
func (b *testBrowser) withCredentials(t *testing.T, req *sip.Request, res *sip.Response, seq uint32) *sip.Request {
	t.Helper()
	retry := req.Clone()
	retry.CSeq().SeqNo = seq
	via := retry.Via()
	via.Params.Add("branch", sip.GenerateBranch())
	retry.AppendHeader(sip.NewHeader("Authorization", digestFor(t, res, req, b.user, b.password)))
	return retry
}

// digestFor answers the first challenge of res to req.
func digestFor(t *testing.T, res *sip.Response, req *sip.Request, user, password string) string {
	t.Helper()
	h := res.GetHeader("WWW-Authenticate")
	if h == nil {
		t.Fatalf("%d without WWW-Authenticate", res.StatusCode)
	}
	chal, err := digest.ParseChallenge(h.Value())
	if err != nil {
		t.Fatal(err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: string(req.Method), URI: req.Recipient.String(), Username: user, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	return cred.String()
}

func (b *testBrowser) transactOnce(ctx context.Context, t *testing.T, req *sip.Request, onProvisional ...func(*sip.Response)) []*sip.Response {
	t.Helper()
	if err := b.write(req); err != nil {
		t.Fatalf("browser send %s: %v", req.Method, err)
	}
	var got []*sip.Response
	for {
		select {
		case res := <-b.res:
			if res.CallID().Value() != req.CallID().Value() || res.CSeq().SeqNo != req.CSeq().SeqNo {
				continue
			}
			got = append(got, res)
			if res.StatusCode >= 200 {
				return got
			}
			for _, f := range onProvisional {
				f(res)
			}
		case <-ctx.Done():
			t.Fatalf("browser %s: no final response: %v (got %s)", req.Method, ctx.Err(), statuses(got))
		}
	}
}

// invite sends an INVITE to user and returns the responses. It ACKs the final
// response, as RFC 3261 wants for non-2xx too, and learns the To tag.
func (b *testBrowser) invite(ctx context.Context, t *testing.T, d *testDialog, ruri sip.Uri, offer []byte, onProvisional ...func(*sip.Response)) []*sip.Response {
	t.Helper()
	inv := b.request(sip.INVITE, d, ruri, offer)
	var all []*sip.Response
	for {
		got := b.transactOnce(ctx, t, inv, onProvisional...)
		all = append(all, got...)
		final := got[len(got)-1]
		tag, _ := final.To().Params.Get("tag")
		d.toTag = tag
		ack := b.request(sip.ACK, d, ruri, nil)
		ack.CSeq().SeqNo = inv.CSeq().SeqNo
		if final.StatusCode >= 300 {
			// An ACK for a non-2xx is part of the INVITE transaction: same branch.
			ack.RemoveHeader("Via")
			ack.PrependHeader(sip.HeaderClone(inv.Via()))
		}
		if err := b.write(ack); err != nil {
			t.Fatalf("browser ACK: %v", err)
		}
		if final.StatusCode != 401 || b.password == "" || inv.GetHeader("Authorization") != nil {
			return all
		}
		d.toTag = ""
		d.cseq++
		inv = b.withCredentials(t, inv, final, d.cseq)
	}
}

// authorizedInvite returns an INVITE of d carrying credentials: it sends one
// without, ACKs the 401 and answers its challenge.
func (b *testBrowser) authorizedInvite(ctx context.Context, t *testing.T, d *testDialog, ruri sip.Uri, offer []byte) *sip.Request {
	t.Helper()
	inv := b.request(sip.INVITE, d, ruri, offer)
	got := b.transactOnce(ctx, t, inv)
	final := got[len(got)-1]
	if final.StatusCode != 401 {
		t.Fatalf("INVITE without credentials: got %s, want 401", statuses(got))
	}
	ack := b.request(sip.ACK, d, ruri, nil)
	ack.CSeq().SeqNo = inv.CSeq().SeqNo
	ack.RemoveHeader("Via")
	ack.PrependHeader(sip.HeaderClone(inv.Via()))
	ack.To().Params.Add("tag", mustTag(t, final))
	if err := b.write(ack); err != nil {
		t.Fatal(err)
	}
	d.cseq++
	return b.withCredentials(t, inv, final, d.cseq)
}

func statuses(rs []*sip.Response) string {
	var s []string
	for _, r := range rs {
		s = append(s, fmt.Sprint(r.StatusCode))
	}
	return strings.Join(s, ",")
}

func receive[T any](ctx context.Context, t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		t.Fatalf("waiting for %s: %v", what, ctx.Err())
	}
	var zero T
	return zero
}

func deadline(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
