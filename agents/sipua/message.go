package sipua

import (
	"crypto/rand"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// allow is what this UA implements (RFC 3261 §20.5).
const allow = "INVITE, ACK, CANCEL, BYE, OPTIONS"

// token is 26 random lowercase base32 characters (130 bits).
func token() string { return strings.ToLower(rand.Text()) }

// newBranch returns an RFC 3261 §8.1.1.7 branch: magic cookie plus randomness.
func newBranch() string { return "z9hG4bK" + token() }

func newTag() string { return token()[:16] }

// spec is what a new request is made from.
type spec struct {
	method  sip.RequestMethod
	ruri    sip.Uri
	routes  []sip.Uri
	from    sip.FromHeader
	to      sip.ToHeader
	callID  string
	cseq    uint32
	contact bool
	body    []byte // sent with Content-Type application/sdp when non-nil
	headers []sip.Header
}

// newRequest builds s with a fresh top Via carrying branch.
func (u *UA) newRequest(s spec, branch string) *sip.Request {
	req := sip.NewRequest(s.method, *s.ruri.Clone())
	via := &sip.ViaHeader{
		ProtocolName:    "SIP",
		ProtocolVersion: "2.0",
		Transport:       u.tp.viaTransport(),
		Host:            u.viaHost,
		Port:            u.viaPort,
		Params:          sip.NewParams(),
	}
	via.Params.Add("branch", branch)
	if !u.tp.reliable() {
		via.Params.Add("rport", "") // RFC 3581
	}
	req.AppendHeader(via)
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	for _, r := range s.routes {
		req.AppendHeader(&sip.RouteHeader{Address: *r.Clone()})
	}
	req.AppendHeader(sip.HeaderClone(&s.from))
	req.AppendHeader(sip.HeaderClone(&s.to))
	callID := sip.CallIDHeader(s.callID)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: s.cseq, MethodName: s.method})
	if s.contact {
		req.AppendHeader(u.contact.Clone())
	}
	for _, h := range s.headers {
		req.AppendHeader(h)
	}
	req.AppendHeader(sip.NewHeader("User-Agent", u.cfg.UserAgent))
	if s.body != nil {
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	req.SetBody(s.body)
	return req
}

// newResponse builds a response to req (RFC 3261 §8.2.6). toTag is added to
// To unless the request already has one or code is 100. src is where a udp
// request came from: it fills received and rport (RFC 3581 §4).
func (u *UA) newResponse(req *sip.Request, code int, reason, toTag string, src netip.AddrPort) *sip.Response {
	res := sip.NewResponse(code, reason)
	for i, h := range req.GetHeaders("Via") {
		via, ok := h.(*sip.ViaHeader)
		if !ok {
			continue
		}
		via = via.Clone()
		if i == 0 && src.IsValid() {
			ip := src.Addr().String()
			if via.Params.Has("rport") {
				via.Params.Add("rport", strconv.Itoa(int(src.Port())))
				via.Params.Add("received", ip)
			} else if via.Host != ip {
				via.Params.Add("received", ip)
			}
		}
		res.AppendHeader(via)
	}
	if req.Method == sip.INVITE && code > 100 && code < 300 {
		sip.CopyHeaders("Record-Route", req, res) // RFC 3261 §12.1.1
	}
	res.AppendHeader(sip.HeaderClone(req.From()))
	to := sip.HeaderClone(req.To()).(*sip.ToHeader)
	if code != 100 && toTag != "" && !to.Params.Has("tag") {
		to.Params.Add("tag", toTag)
	}
	res.AppendHeader(to)
	res.AppendHeader(sip.HeaderClone(req.CallID()))
	res.AppendHeader(sip.HeaderClone(req.CSeq()))
	res.AppendHeader(sip.NewHeader("Server", u.cfg.UserAgent))
	res.SetBody(nil)
	return res
}

// withBody sets an SDP body on res.
func withBody(res *sip.Response, body []byte) {
	if body != nil {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	res.SetBody(body)
}

// responseDest is where a udp response to req goes (RFC 3261 §18.2.2 with
// RFC 3581): the source address, at the source port when rport was asked for,
// else at the Via port.
func responseDest(req *sip.Request, src netip.AddrPort) netip.AddrPort {
	if !src.IsValid() {
		return src
	}
	via := req.Via()
	if via.Params.Has("rport") {
		return src
	}
	port := via.Port
	if port == 0 {
		port = 5060
	}
	return netip.AddrPortFrom(src.Addr(), uint16(port))
}

func tagOf(p sip.HeaderParams) string {
	t, _ := p.Get("tag")
	return t
}

func branchOf(m sip.Message) string {
	v := m.Via()
	if v == nil {
		return ""
	}
	b, _ := v.Params.Get("branch")
	return b
}

// clientKey matches a response to its client transaction (RFC 3261 §17.1.3).
func clientKey(branch string, method sip.RequestMethod) string {
	return branch + " " + string(method)
}

// serverKey matches a request to its server transaction (RFC 3261 §17.2.3);
// ACK and CANCEL are looked up with method INVITE by the caller. Requests
// without the magic cookie (RFC 2543) fall back to their identifying fields.
func serverKey(req *sip.Request, method sip.RequestMethod) string {
	via := req.Via()
	branch, _ := via.Params.Get("branch")
	if strings.HasPrefix(branch, "z9hG4bK") {
		return branch + " " + via.SentBy() + " " + string(method)
	}
	return "2543 " + req.CallID().Value() + " " + strconv.Itoa(int(req.CSeq().SeqNo)) + " " +
		tagOf(req.From().Params) + " " + via.SentBy() + " " + string(method)
}

// dialogKey identifies a dialog from our side.
func dialogKey(callID, localTag, remoteTag string) string {
	return callID + "\x00" + localTag + "\x00" + remoteTag
}

// isSDP reports whether a Content-Type names application/sdp.
func isSDP(ct sip.Header) bool {
	if ct == nil {
		return false
	}
	v, _, _ := strings.Cut(ct.Value(), ";")
	return strings.EqualFold(strings.TrimSpace(v), "application/sdp")
}
