package attack

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// SIP timers for requests sent by hand over UDP (RFC 3261 17.1.2.2: T1
// doubling, capped at T2, until a final answer or the transaction's end).
const (
	sipT1      = 500 * time.Millisecond
	sipT2      = 4 * time.Second
	sipTimeout = 4 * time.Second
)

// errNoAnswer is returned when the target sent no final answer in time.
var errNoAnswer = errors.New("no final answer")

// sipPort is one UDP socket toward the target's SIP port, on a loopback
// source of its own (env.Net), with its datagrams in the capture: for
// attacks that speak SIP by hand and read answers exactly.
type sipPort struct {
	conn   net.PacketConn
	server *net.UDPAddr
	local  *net.UDPAddr
	domain string
	buf    []byte
}

// openSIPPort opens a socket on a fresh source address, bound to port (0:
// any), toward the target's SIP UDP address.
func openSIPPort(env *Env, capture *Capture, port int) (*sipPort, error) {
	n, err := env.Net(capture.Option())
	if err != nil {
		return nil, fmt.Errorf("socket layer: %w", err)
	}
	server, err := n.ResolveUDPAddr("udp", env.SIP.UDP)
	if err != nil {
		return nil, fmt.Errorf("target SIP address %q: %w", env.SIP.UDP, err)
	}
	conn, err := n.ListenPacket("udp", ":"+strconv.Itoa(port))
	if err != nil {
		return nil, fmt.Errorf("binding %s:%d: %w", n.SourceIP(), port, err)
	}
	local, ok := conn.LocalAddr().(*net.UDPAddr)
	if !ok {
		_ = conn.Close()
		return nil, fmt.Errorf("local address %v is not UDP", conn.LocalAddr())
	}
	return &sipPort{conn: conn, server: server, local: local, domain: env.SIP.Domain, buf: make([]byte, 65535)}, nil
}

func (p *sipPort) Close() error { return p.conn.Close() }

// source is the socket's address as the target sees it.
func (p *sipPort) source() string { return p.local.String() }

func (p *sipPort) send(b []byte) error {
	_, err := p.conn.WriteTo(b, p.server)
	return err
}

// uri is sip:user@domain (user may be empty).
func (p *sipPort) uri(user string) sip.Uri {
	return sip.Uri{Scheme: "sip", User: user, Host: p.domain}
}

// request builds an out-of-dialog request from this socket: Via (our
// address, a fresh branch), From with a tag, To, a fresh Call-ID, CSeq 1,
// Max-Forwards 70, Content-Length 0.
func (p *sipPort) request(method sip.RequestMethod, ruri sip.Uri, from, to string) *sip.Request {
	return newRequest(method, ruri, "UDP", p.local.IP.String(), p.local.Port, p.uri(from), p.uri(to))
}

// newRequest builds an out-of-dialog request sent over transport (as the
// Via names it: UDP, TCP, TLS, WS, WSS) from host:port: Via with a fresh
// branch, From with a tag, To, a fresh Call-ID, CSeq 1, Max-Forwards 70,
// Content-Length 0.
func newRequest(method sip.RequestMethod, ruri sip.Uri, transport, host string, port int, from, to sip.Uri) *sip.Request {
	req := sip.NewRequest(method, ruri)
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: transport,
		Host: host, Port: port, Params: sip.NewParams()}
	via.Params.Add("branch", sip.GenerateBranch())
	fromH := &sip.FromHeader{Address: from, Params: sip.NewParams()}
	fromH.Params.Add("tag", strings.ToLower(rand.Text()[:10]))
	callID := sip.CallIDHeader(rand.Text())
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(via)
	req.AppendHeader(fromH)
	req.AppendHeader(&sip.ToHeader{Address: to, Params: sip.NewParams()})
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: method})
	req.AppendHeader(&maxFwd)
	req.SetBody(nil)
	return req
}

// rebranch gives req a fresh Via branch and the next CSeq, to send it
// again as a new transaction of the same call (e.g. with credentials).
func rebranch(req *sip.Request) {
	if via := req.Via(); via != nil {
		via.Params.Add("branch", sip.GenerateBranch())
	}
	if cseq := req.CSeq(); cseq != nil {
		cseq.SeqNo++
	}
}

// plainOffer is a minimal RTP/AVP SDP offer on our own address (nothing
// listens there: no call is ever meant to connect).
func (p *sipPort) plainOffer() []byte {
	ip := p.local.IP.String()
	return []byte("v=0\r\no=- 1 1 IN IP4 " + ip + "\r\ns=-\r\nc=IN IP4 " + ip +
		"\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
}

// withOffer sets an SDP body on req.
func (p *sipPort) withOffer(req *sip.Request) *sip.Request {
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(p.plainOffer())
	return req
}

// sipAnswer is what came back for one request.
type sipAnswer struct {
	final       *sip.Response
	provisional []*sip.Response
	rtt         time.Duration // first send to final answer
	size        int           // bytes of the final answer's datagram
	resent      int           // retransmissions of the request
}

// exchange sends req and waits for its final answer, retransmitting over
// UDP (T1 doubling to T2; an INVITE only until a provisional answer) until
// timeout or ctx ends. A final answer to an INVITE is acknowledged (and a
// 2xx hung up), so the target keeps no transaction of ours alive.
func (p *sipPort) exchange(ctx context.Context, req *sip.Request, timeout time.Duration) (sipAnswer, error) {
	raw := []byte(req.String())
	start := time.Now()
	deadline := start.Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	var ans sipAnswer
	if err := p.send(raw); err != nil {
		return ans, err
	}
	interval := sipT1
	next := start.Add(interval)
	for {
		if err := ctx.Err(); err != nil {
			return ans, err
		}
		until := next
		if deadline.Before(until) {
			until = deadline
		}
		res, n, err := p.read(until)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			now := time.Now()
			if !now.Before(deadline) {
				return ans, errNoAnswer
			}
			if !req.IsInvite() || len(ans.provisional) == 0 {
				if err := p.send(raw); err != nil {
					return ans, err
				}
				ans.resent++
			}
			interval = min(2*interval, sipT2)
			next = now.Add(interval)
			continue
		}
		if err != nil {
			return ans, err
		}
		if res == nil || !answers(res, req) {
			continue
		}
		if res.IsProvisional() {
			ans.provisional = append(ans.provisional, res)
			continue
		}
		ans.final, ans.rtt, ans.size = res, time.Since(start), n
		if req.IsInvite() {
			p.acknowledge(req, res)
		}
		return ans, nil
	}
}

// read returns the next SIP response on the socket before until (nil for a
// datagram that is not one).
func (p *sipPort) read(until time.Time) (*sip.Response, int, error) {
	if err := p.conn.SetReadDeadline(until); err != nil {
		return nil, 0, err
	}
	n, _, err := p.conn.ReadFrom(p.buf)
	if err != nil {
		return nil, 0, err
	}
	msg, err := sip.ParseMessage(p.buf[:n])
	if err != nil {
		return statusLine(p.buf[:n]), n, nil
	}
	res, _ := msg.(*sip.Response)
	return res, n, nil
}

// statusLine reads a response that does not parse (it may echo the
// malformed fields of the request it answers) by its status line alone;
// nil when the datagram does not start with one.
func statusLine(b []byte) *sip.Response {
	line, _, _ := strings.Cut(string(b), "\r\n")
	version, rest, ok := strings.Cut(line, " ")
	if !ok || !strings.HasPrefix(version, "SIP/") {
		return nil
	}
	code, reason, _ := strings.Cut(rest, " ")
	n, err := strconv.Atoi(code)
	if err != nil || n < 100 || n > 699 {
		return nil
	}
	return sip.NewResponse(n, reason)
}

// answers reports whether res is an answer to req (same Call-ID and CSeq).
func answers(res *sip.Response, req *sip.Request) bool {
	rc, qc := res.CSeq(), req.CSeq()
	return res.CallID() != nil && req.CallID() != nil && res.CallID().Value() == req.CallID().Value() &&
		rc != nil && qc != nil && rc.SeqNo == qc.SeqNo && rc.MethodName == qc.MethodName
}

// acknowledge sends the ACK for an INVITE's final answer (RFC 3261
// 17.1.1.3 for non-2xx: same branch; 13.2.2.4 for 2xx: a new one, followed
// by a BYE, best effort: a call an attack set up by accident is ended).
func (p *sipPort) acknowledge(inv *sip.Request, res *sip.Response) {
	for _, m := range closing(inv, res) {
		_ = p.send(m)
	}
}

// closing returns what ends the transaction (and call) an INVITE's final
// answer res leaves: the ACK, and after a 2xx a BYE.
func closing(inv *sip.Request, res *sip.Response) [][]byte {
	ack := inDialog(inv, res, sip.ACK, inv.CSeq().SeqNo)
	if res.IsSuccess() {
		via := ack.Via()
		via.Params.Add("branch", sip.GenerateBranch())
	}
	out := [][]byte{[]byte(ack.String())}
	if res.IsSuccess() {
		out = append(out, []byte(inDialog(inv, res, sip.BYE, inv.CSeq().SeqNo+1).String()))
	}
	return out
}

// inDialog builds a request of method within the dialog (or transaction)
// res answered: the INVITE's Request-URI (a 2xx's Contact when it has one),
// Via, From and Call-ID, and res's To.
func inDialog(inv *sip.Request, res *sip.Response, method sip.RequestMethod, seq uint32) *sip.Request {
	ruri := *inv.Recipient.Clone()
	if c := res.Contact(); c != nil && res.IsSuccess() {
		ruri = *c.Address.Clone()
	}
	req := sip.NewRequest(method, ruri)
	req.AppendHeader(inv.Via().Clone())
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&maxFwd)
	f := inv.From()
	req.AppendHeader(&sip.FromHeader{DisplayName: f.DisplayName, Address: *f.Address.Clone(), Params: f.Params.Clone()})
	if t := res.To(); t != nil {
		req.AppendHeader(&sip.ToHeader{DisplayName: t.DisplayName, Address: *t.Address.Clone(), Params: t.Params.Clone()})
	}
	callID := sip.CallIDHeader(inv.CallID().Value())
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: method})
	req.SetBody(nil)
	return req
}

// challenge is a digest challenge from a 401 or 407, with the header the
// credentials go back in.
type challenge struct {
	chal   *digest.Challenge
	header string // Authorization or Proxy-Authorization
}

// challengeOf returns the first challenge in res that can be answered
// (offered order: the target's preference first).
func challengeOf(res *sip.Response) (challenge, error) {
	name, reply := "WWW-Authenticate", "Authorization"
	if res.StatusCode == sip.StatusProxyAuthRequired {
		name, reply = "Proxy-Authenticate", "Proxy-Authorization"
	}
	for _, h := range res.GetHeaders(name) {
		c, err := digest.ParseChallenge(h.Value())
		if err == nil && digest.CanDigest(c) {
			return challenge{chal: c, header: reply}, nil
		}
	}
	return challenge{}, fmt.Errorf("%d %s carries no digest challenge this agent can answer", res.StatusCode, res.Reason)
}

// authorize adds credentials for user and password to req, with nonce
// count nc (one nonce answers many requests when nc grows).
func (c challenge) authorize(req *sip.Request, user, password string, nc int) error {
	cred, err := digest.Digest(c.chal, digest.Options{
		Method: string(req.Method), URI: req.Recipient.String(), Username: user, Password: password,
		Count: nc, Cnonce: strings.ToLower(rand.Text()[:16]),
	})
	if err != nil {
		return fmt.Errorf("digest: %w", err)
	}
	req.RemoveHeader(c.header)
	req.AppendHeader(sip.NewHeader(c.header, cred.String()))
	return nil
}

// statusText is "401 Unauthorized", or "no answer" for nil.
func statusText(res *sip.Response) string {
	if res == nil {
		return "no answer"
	}
	return fmt.Sprintf("%d %s", res.StatusCode, res.Reason)
}

// retryAfter is the Retry-After of res in seconds, and whether it had one.
func retryAfter(res *sip.Response) (int, bool) {
	h := res.GetHeader("Retry-After")
	if h == nil {
		return 0, false
	}
	v, _, _ := strings.Cut(strings.TrimSpace(h.Value()), ";")
	v, _, _ = strings.Cut(strings.TrimSpace(v), " ")
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
