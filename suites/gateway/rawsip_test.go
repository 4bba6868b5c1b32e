package gateway_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/icholy/digest"
	. "github.com/onsi/ginkgo/v2"

	"github.com/gauntlet-rtc/gauntlet/scenarios"
)

// rawClient speaks SIP by hand over a WebSocket or UDP, for the specs that
// send what a well-behaved agent never would, and read answers exactly.
type rawClient struct {
	transport string // WS, WSS or UDP
	conn      net.Conn
	rw        io.ReadWriter
	pc        net.PacketConn
	server    net.Addr
	host      string // Via sent-by host
	port      int
	domain    string
	user      string
	password  string

	wmu     sync.Mutex
	in      chan sip.Message
	readers sync.WaitGroup
}

// rawUsers hands out users far from the ones fixture endpoints take.
var rawUsers atomic.Int32

// rawUser returns a fresh user of kind from the target, with its password.
func rawUser(kind scenarios.Kind) (string, string) { return rawUserOf(fx.Target, kind) }

func rawUserOf(t *scenarios.Target, kind scenarios.Kind) (string, string) {
	i := 900 + int(rawUsers.Add(1))
	user, pw, err := t.User(string(kind), kind, i)
	if err != nil {
		panic(err)
	}
	return user, pw
}

// rawSources gives each raw client a loopback source address of its own,
// as every virtual user has, so per-source limits see separate sources.
var rawSources atomic.Int32

func rawSource() net.IP {
	n := int(rawSources.Add(1))
	return net.IPv4(127, 77, byte(n/250), byte(n%250+1))
}

func dialRawWS(ctx context.Context, target string, tlsConfig *tls.Config, protocols ...string) (*rawClient, error) {
	if protocols == nil {
		protocols = []string{"sip"}
	}
	nd := net.Dialer{LocalAddr: &net.TCPAddr{IP: rawSource()}}
	d := ws.Dialer{Protocols: protocols, TLSConfig: tlsConfig, NetDial: nd.DialContext}
	conn, br, hs, err := d.Dial(ctx, target)
	if err != nil {
		return nil, err
	}
	if hs.Protocol != "sip" {
		conn.Close()
		return nil, fmt.Errorf("101 selected %q", hs.Protocol)
	}
	var rw io.ReadWriter = conn
	if br != nil {
		rw = struct {
			io.Reader
			io.Writer
		}{io.MultiReader(br, conn), conn}
	}
	transport := "WS"
	if strings.HasPrefix(target, "wss:") {
		transport = "WSS"
	}
	r := &rawClient{transport: transport, conn: conn, rw: rw, host: strings.ToLower(rand.Text()[:10]) + ".invalid",
		domain: fx.Target.SIPDomain(), in: make(chan sip.Message, 64)}
	r.readers.Go(r.readWS)
	return r, nil
}

func dialRawUDP(addr string) (*rawClient, error) {
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: rawSource()})
	if err != nil {
		return nil, err
	}
	server, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		pc.Close()
		return nil, err
	}
	la := pc.LocalAddr().(*net.UDPAddr)
	r := &rawClient{transport: "UDP", pc: pc, server: server, host: la.IP.String(), port: la.Port,
		domain: fx.Target.SIPDomain(), in: make(chan sip.Message, 64)}
	r.readers.Go(r.readUDP)
	return r, nil
}

func (r *rawClient) close() {
	if r.conn != nil {
		_ = r.conn.Close()
	}
	if r.pc != nil {
		_ = r.pc.Close()
	}
	r.readers.Wait()
}

func (r *rawClient) readWS() {
	for {
		data, _, err := wsutil.ReadServerData(r.rw)
		if err != nil {
			return
		}
		r.deliver(data)
	}
}

func (r *rawClient) readUDP() {
	buf := make([]byte, 65535)
	for {
		n, _, err := r.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		r.deliver(append([]byte(nil), buf[:n]...))
	}
}

func (r *rawClient) deliver(data []byte) {
	msg, err := sip.ParseMessage(data)
	if err != nil {
		return
	}
	select {
	case r.in <- msg:
	default:
	}
}

// sendBytes writes one message as is: a text frame on a WebSocket (or
// op), a datagram on UDP.
func (r *rawClient) sendBytes(b []byte, op ...ws.OpCode) error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if r.pc != nil {
		_, err := r.pc.WriteTo(b, r.server)
		return err
	}
	code := ws.OpText
	if len(op) > 0 {
		code = op[0]
	}
	return wsutil.WriteClientMessage(r.conn, code, b)
}

func (r *rawClient) send(m sip.Message) error { return r.sendBytes([]byte(m.String())) }

func (r *rawClient) aor(user string) sip.Uri {
	return sip.Uri{Scheme: "sip", User: user, Host: r.domain}
}

func (r *rawClient) contact() *sip.ContactHeader {
	u := sip.Uri{Scheme: "sip", User: r.user, Host: r.host, Port: r.port}
	if r.transport != "UDP" {
		u.UriParams = sip.NewParams()
		u.UriParams.Add("transport", strings.ToLower(r.transport))
	}
	return &sip.ContactHeader{Address: u}
}

func (r *rawClient) via() *sip.ViaHeader {
	v := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: r.transport, Host: r.host, Port: r.port, Params: sip.NewParams()}
	v.Params.Add("branch", sip.GenerateBranch())
	if r.transport == "UDP" {
		v.Params.Add("rport", "")
	}
	return v
}

// rawDialog is the client's view of one Call-ID.
type rawDialog struct {
	callID  string
	fromTag string
	toTag   string
	to      sip.Uri
	cseq    uint32
}

func newRawDialog(to sip.Uri) *rawDialog {
	return &rawDialog{callID: rand.Text(), fromTag: strings.ToLower(rand.Text()[:12]), to: to}
}

// request builds a request of the dialog to ruri; non-ACKs take the next CSeq.
func (r *rawClient) request(method sip.RequestMethod, d *rawDialog, ruri sip.Uri, body []byte, contentType string) *sip.Request {
	if method != sip.ACK && method != sip.CANCEL {
		d.cseq++
	}
	req := sip.NewRequest(method, ruri)
	req.AppendHeader(r.via())
	from := &sip.FromHeader{Address: r.aor(r.user), Params: sip.NewParams()}
	from.Params.Add("tag", d.fromTag)
	to := &sip.ToHeader{Address: d.to, Params: sip.NewParams()}
	if d.toTag != "" {
		to.Params.Add("tag", d.toTag)
	}
	callID := sip.CallIDHeader(d.callID)
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: d.cseq, MethodName: method})
	req.AppendHeader(&maxFwd)
	req.AppendHeader(r.contact())
	if body != nil {
		ct := sip.ContentTypeHeader(contentType)
		req.AppendHeader(&ct)
	}
	req.SetBody(body)
	return req
}

var errNoAnswer = errors.New("no final response")

// responses sends req and returns its responses up to the final one.
func (r *rawClient) responses(ctx context.Context, req *sip.Request) ([]*sip.Response, error) {
	if err := r.send(req); err != nil {
		return nil, err
	}
	return r.await(ctx, req)
}

// await returns req's responses up to the final one.
func (r *rawClient) await(ctx context.Context, req *sip.Request) ([]*sip.Response, error) {
	var got []*sip.Response
	for {
		select {
		case m := <-r.in:
			res, ok := m.(*sip.Response)
			if !ok || res.CallID() == nil || res.CallID().Value() != req.CallID().Value() ||
				res.CSeq().SeqNo != req.CSeq().SeqNo || res.CSeq().MethodName != req.Method {
				continue
			}
			got = append(got, res)
			if res.StatusCode >= 200 {
				return got, nil
			}
		case <-ctx.Done():
			return got, fmt.Errorf("%s: %w: %w", req.Method, errNoAnswer, ctx.Err())
		}
	}
}

// final sends req and returns its final response.
func (r *rawClient) final(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	got, err := r.responses(ctx, req)
	if err != nil {
		return nil, err
	}
	return got[len(got)-1], nil
}

// ackFor acknowledges a non-2xx final response to inv (same branch).
func (r *rawClient) ackFor(inv *sip.Request, res *sip.Response, d *rawDialog) error {
	ack := r.request(sip.ACK, d, inv.Recipient, nil, "")
	ack.CSeq().SeqNo = inv.CSeq().SeqNo
	ack.RemoveHeader("Via")
	ack.PrependHeader(sip.HeaderClone(inv.Via()))
	ack.RemoveHeader("To")
	ack.AppendHeader(sip.HeaderClone(res.To()))
	return r.send(ack)
}

// authorized returns req again, a new transaction with the next CSeq of d,
// answering res's first challenge.
func (r *rawClient) authorized(req *sip.Request, res *sip.Response, d *rawDialog) (*sip.Request, error) {
	h := res.GetHeader("WWW-Authenticate")
	if h == nil {
		return nil, fmt.Errorf("%d without a challenge", res.StatusCode)
	}
	chal, err := digest.ParseChallenge(h.Value())
	if err != nil {
		return nil, err
	}
	cred, err := digest.Digest(chal, digest.Options{Method: string(req.Method), URI: req.Recipient.String(), Username: r.user, Password: r.password})
	if err != nil {
		return nil, err
	}
	retry := req.Clone()
	d.cseq++
	retry.CSeq().SeqNo = d.cseq
	retry.RemoveHeader("Via")
	retry.PrependHeader(r.via())
	retry.RemoveHeader("Authorization")
	retry.AppendHeader(sip.NewHeader("Authorization", cred.String()))
	return retry, nil
}

// do sends req and returns its final response, answering one 401 with
// credentials (ACKing it first for an INVITE). It returns the request
// that got the answer.
func (r *rawClient) do(ctx context.Context, req *sip.Request, d *rawDialog) (*sip.Response, *sip.Request, error) {
	res, err := r.final(ctx, req)
	if err != nil || res.StatusCode != 401 || r.password == "" {
		return res, req, err
	}
	if req.Method == sip.INVITE {
		if err := r.ackFor(req, res, d); err != nil {
			return nil, nil, err
		}
	}
	retry, err := r.authorized(req, res, d)
	if err != nil {
		return nil, nil, err
	}
	res, err = r.final(ctx, retry)
	return res, retry, err
}

// inviteProceeding sends an INVITE with credentials and returns it once a
// provisional response came, without waiting for the final one.
func (r *rawClient) inviteProceeding(ctx context.Context, d *rawDialog, to sip.Uri, body []byte) (*sip.Request, error) {
	first := r.request(sip.INVITE, d, to, body, "application/sdp")
	res, err := r.final(ctx, first)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != 401 {
		return nil, fmt.Errorf("INVITE without credentials: %d, want 401", res.StatusCode)
	}
	if err := r.ackFor(first, res, d); err != nil {
		return nil, err
	}
	inv, err := r.authorized(first, res, d)
	if err != nil {
		return nil, err
	}
	if err := r.send(inv); err != nil {
		return nil, err
	}
	for {
		select {
		case m := <-r.in:
			res, ok := m.(*sip.Response)
			if !ok || res.CallID().Value() != d.callID || res.CSeq().SeqNo != inv.CSeq().SeqNo {
				continue
			}
			if res.StatusCode >= 200 {
				return nil, fmt.Errorf("INVITE answered %d, want it still proceeding", res.StatusCode)
			}
			return inv, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// register binds the client's contact for its user.
func (r *rawClient) register(ctx context.Context) (*sip.Response, error) {
	d := newRawDialog(r.aor(r.user))
	req := r.request(sip.REGISTER, d, sip.Uri{Scheme: "sip", Host: r.domain}, nil, "")
	req.AppendHeader(sip.NewHeader("Expires", "300"))
	res, _, err := r.do(ctx, req, d)
	return res, err
}

// nextRequest returns the next request the client receives.
func (r *rawClient) nextRequest(ctx context.Context) (*sip.Request, error) {
	for {
		select {
		case m := <-r.in:
			if req, ok := m.(*sip.Request); ok {
				return req, nil
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// reply answers req; a toTag is added when the To has none.
func (r *rawClient) reply(req *sip.Request, code int, reason, toTag string, body []byte) error {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if toTag != "" && !req.To().Params.Has("tag") && code > 100 {
		res.To().Params.Add("tag", toTag) // in place of the one sipgo made up
	}
	if code < 300 && code > 100 {
		res.AppendHeader(r.contact())
	}
	if body != nil {
		ct := sip.ContentTypeHeader("application/sdp")
		res.AppendHeader(&ct)
	}
	res.SetBody(body)
	return r.send(res)
}

// newRaw connects a raw client of kind (webrtc: WebSocket, sip: UDP) as a
// fresh user of the target.
func newRaw(ctx context.Context, kind scenarios.Kind) (*rawClient, error) {
	return newRawOn(ctx, fx.Target, kind)
}

// newRawOn is newRaw against another target.
func newRawOn(ctx context.Context, t *scenarios.Target, kind scenarios.Kind) (*rawClient, error) {
	var r *rawClient
	var err error
	if kind == scenarios.KindWebRTC {
		var tc *tls.Config
		if u, perr := url.Parse(t.SIP.WS); perr == nil && u.Scheme == "wss" {
			tc = &tls.Config{InsecureSkipVerify: t.SIP.InsecureTLS, ServerName: u.Hostname()}
		}
		r, err = dialRawWS(ctx, t.SIP.WS, tc)
	} else {
		r, err = dialRawUDP(t.SIP.UDP)
	}
	if err != nil {
		return nil, err
	}
	r.domain = t.SIPDomain()
	r.user, r.password = rawUserOf(t, kind)
	DeferCleanup(r.close)
	return r, nil
}

// plainOffer is a phone's RTP/AVP offer (PCMU, telephone-event).
func plainOffer(port int) []byte {
	return []byte(fmt.Sprintf("v=0\r\no=raw 1 1 IN IP4 127.0.0.1\r\ns=raw\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n", port))
}

func deadlineIn(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}
