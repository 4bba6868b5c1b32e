package gateway

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"
)

func TestGlareWait(t *testing.T) {
	low := func(int) int { return 0 }
	high := func(n int) int { return n - 1 }
	for _, tc := range []struct {
		name  string
		owner bool
		intN  func(int) int
		want  time.Duration
	}{
		{"owner of the Call-ID, shortest", true, low, 2100 * time.Millisecond},
		{"owner of the Call-ID, longest", true, high, 4 * time.Second},
		{"not the owner, shortest", false, low, 0},
		{"not the owner, longest", false, high, 2 * time.Second},
		{"10 ms units", false, func(int) int { return 7 }, 70 * time.Millisecond},
	} {
		if got := glareWait(tc.owner, tc.intN); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestWithDirection(t *testing.T) {
	const head = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
	for _, tc := range []struct {
		name, body, dir, want string
	}{
		{"replaced", head + "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\n", dirSendOnly,
			head + "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=sendonly\r\na=rtcp-mux\r\n"},
		{"added to a section without one", head + "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n", dirInactive,
			head + "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=inactive\r\n"},
		{"session level dropped", head + "a=recvonly\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=inactive\r\n", dirSendRecv,
			head + "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=sendrecv\r\n"},
		{"every section", head + "m=audio 9 RTP/AVP 0\r\na=sendrecv\r\nm=video 9 RTP/AVP 96\r\na=sendrecv\r\n", dirInactive,
			head + "m=audio 9 RTP/AVP 0\r\na=inactive\r\nm=video 9 RTP/AVP 96\r\na=inactive\r\n"},
		{"a look-alike kept", head + "m=audio 9 RTP/AVP 0\r\na=sendrecvx\r\na=sendrecv\r\n", dirRecvOnly,
			head + "m=audio 9 RTP/AVP 0\r\na=sendrecvx\r\na=recvonly\r\n"},
	} {
		if got := withDirection(tc.body, tc.dir); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

// phoneSDP is a plain PCMU description on port with direction dir.
func phoneSDP(port int, version int, dir string) []byte {
	return fmt.Appendf(nil, "v=0\r\no=phone 1 %d IN IP4 127.0.0.1\r\ns=phone\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=%s\r\n", version, port, dir)
}

// phoneReinvite sends a re-INVITE with offer in the phone's dialog, ACKs
// its 2xx and returns the gateway's answer.
func phoneReinvite(ctx context.Context, t *testing.T, dlg *sipgo.DialogServerSession, offer []byte) []byte {
	t.Helper()
	req := sip.NewRequest(sip.INVITE, dlg.InviteRequest.Contact().Address)
	ct := sip.ContentTypeHeader("application/sdp")
	req.AppendHeader(&ct)
	req.SetBody(offer)
	res, err := dlg.Do(ctx, req)
	if err != nil {
		t.Fatalf("phone re-INVITE: %v", err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("phone re-INVITE: got %d %s, want 200", res.StatusCode, res.Reason)
	}
	ack := sip.NewRequest(sip.ACK, req.Recipient)
	ack.SetBody(nil)
	if err := dlg.WriteRequest(ack); err != nil {
		t.Fatalf("phone ACK: %v", err)
	}
	return res.Body()
}

// nextRequest returns the next request of method the gateway sent the
// browser.
func (b *testBrowser) nextRequest(ctx context.Context, t *testing.T, method sip.RequestMethod) *sip.Request {
	t.Helper()
	for {
		req := receive(ctx, t, b.requests, string(method)+" from the gateway")
		if req.Method == method {
			return req
		}
	}
}

// answerReinvite answers a re-INVITE the browser received: code 200 with
// the peer's answer to its offer, or code alone.
func (b *testBrowser) answerReinvite(t *testing.T, p *testPeer, req *sip.Request, code int) {
	t.Helper()
	if code != 200 {
		if err := b.write(sip.NewResponseFromRequest(req, code, "Request Pending", nil)); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(req.Body())}); err != nil {
		t.Fatalf("the browser takes the gateway's re-offer: %v", err)
	}
	answer, err := p.pc.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.pc.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", []byte(p.pc.LocalDescription().SDP))
	res.AppendHeader(b.contact())
	ct := sip.ContentTypeHeader("application/sdp")
	res.AppendHeader(&ct)
	if err := b.write(res); err != nil {
		t.Fatal(err)
	}
}

// sdpLine returns the value of the first line of body that starts with
// prefix.
func sdpLine(body []byte, prefix string) string {
	for _, l := range strings.Split(string(body), "\r\n") {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			return v
		}
	}
	return ""
}

// flows sends marked packets (seq0 on) until want of them arrived or ctx
// ends, and reports how many arrived. Those sent before the path is up
// are lost; the next ones count.
func flows(ctx context.Context, send func(p *rtp.Packet) error, arrived <-chan *rtp.Packet, seq0, want int) int {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	got := 0
	for i := 0; got < want; i++ {
		_ = send(marked(seq0, i, "flows"))
		for drained := false; !drained && got < want; {
			select {
			case p, ok := <-arrived:
				if !ok {
					return got
				}
				if int(p.SequenceNumber-uint16(seq0)) < 10000 {
					got++
				}
			default:
				drained = true
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return got
		}
	}
	return got
}

// phoneRTPReader hands the RTP the phone receives to a channel until its
// socket closes.
func phoneRTPReader(conn *net.UDPConn) <-chan *rtp.Packet {
	out := make(chan *rtp.Packet, 256)
	go func() {
		defer close(out)
		buf := make([]byte, 1500)
		for {
			n, _, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			var p rtp.Packet
			if p.Unmarshal(append([]byte(nil), buf[:n]...)) == nil {
				select {
				case out <- &p:
				default:
				}
			}
		}
	}()
	return out
}

// TestHoldPassedToBrowser: a phone's hold and unhold reach the browser it
// talks to as re-INVITEs over the browser's WebSocket, made by the leg's
// PeerConnection: the same ICE credentials and fingerprint, a=setup:actpass,
// the phone's direction. The browser answers the unhold with 491 first
// and gets it again after RFC 3261 14.1's wait; media flows both ways
// after it.
func TestHoldPassedToBrowser(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	ctx := deadline(t, 15*time.Second)
	gw := startGateway(ctx, t, DefaultConfig())
	domain := gw.Domain()
	phone := startPhone(t, "desk2000")
	phone.password = gw.Password(KindSIP)
	close(phone.answer)
	if res := phone.register(ctx, gw.UDPAddr(), domain); res.StatusCode != 200 {
		t.Fatalf("phone REGISTER: %d %s", res.StatusCode, res.Reason)
	}
	browser := dialBrowser(ctx, t, gw.WSURL(), "web1000", domain)
	browser.password = gw.Password(KindWebRTC)
	reg := browser.request(sip.REGISTER, newDialog("web1000"), sip.Uri{Scheme: "sip", Host: domain}, nil)
	if got := browser.transact(ctx, t, reg); got[len(got)-1].StatusCode != 200 {
		t.Fatalf("browser REGISTER: %s", statuses(got))
	}
	peer := newCallingPeer(ctx, t)
	defer peer.close()
	_, got := placeCall(ctx, t, browser, peer)
	firstAnswer := got[len(got)-1].Body()
	phoneSide := receive(ctx, t, phone.calls, "the phone's dialog")
	gwRTP := receive(ctx, t, phone.media, "the gateway's RTP address")
	port := phone.rtp.LocalAddr().(*net.UDPAddr).Port
	atPhone := phoneRTPReader(phone.rtp)
	fromPhone := func(p *rtp.Packet) error {
		raw, err := p.Marshal()
		if err != nil {
			return err
		}
		_, err = phone.rtp.WriteToUDP(raw, gwRTP)
		return err
	}

	// The phone holds: the browser is offered a=sendonly.
	if answer := phoneReinvite(ctx, t, phoneSide, phoneSDP(port, 2, dirSendOnly)); !strings.Contains(string(answer), "a=recvonly") {
		t.Errorf("the gateway's answer to the phone's hold:\n%s\nwant a=recvonly", answer)
	}
	hold := browser.nextRequest(ctx, t, sip.INVITE)
	body := hold.Body()
	for _, want := range []struct{ prefix, value string }{
		{"a=ice-ufrag:", sdpLine(firstAnswer, "a=ice-ufrag:")},
		{"a=ice-pwd:", sdpLine(firstAnswer, "a=ice-pwd:")},
		{"a=fingerprint:", sdpLine(firstAnswer, "a=fingerprint:")},
		{"a=setup:", setupActpass},
	} {
		if got := sdpLine(body, want.prefix); got != want.value {
			t.Errorf("re-offer %s%s, want %s", want.prefix, got, want.value)
		}
	}
	if dirs := directionLines(body); len(dirs) != 1 || dirs[0] != dirSendOnly {
		t.Errorf("re-offer directions %v, want [sendonly]:\n%s", dirs, body)
	}
	if hold.CallID().Value() != got[len(got)-1].CallID().Value() {
		t.Errorf("re-INVITE Call-ID %s, want the browser's call", hold.CallID().Value())
	}
	browser.answerReinvite(t, peer.testPeer, hold, 200)
	browser.nextRequest(ctx, t, sip.ACK)
	if n := flows(ctx, fromPhone, peer.fromGateway, 59000, 10); n < 10 {
		t.Fatalf("phone->browser during the hold: %d packets", n)
	}

	// The phone unholds; the browser answers 491 once.
	phoneReinvite(ctx, t, phoneSide, phoneSDP(port, 3, dirSendRecv))
	unhold := browser.nextRequest(ctx, t, sip.INVITE)
	browser.answerReinvite(t, peer.testPeer, unhold, 491)
	if ack := browser.nextRequest(ctx, t, sip.ACK); ack.CSeq().SeqNo != unhold.CSeq().SeqNo {
		t.Errorf("ACK CSeq %d, want the 491's %d", ack.CSeq().SeqNo, unhold.CSeq().SeqNo)
	}
	again := browser.nextRequest(ctx, t, sip.INVITE)
	if again.CSeq().SeqNo <= unhold.CSeq().SeqNo {
		t.Errorf("retried re-INVITE CSeq %d, want above %d", again.CSeq().SeqNo, unhold.CSeq().SeqNo)
	}
	if dirs := directionLines(again.Body()); len(dirs) != 1 || dirs[0] != dirSendRecv {
		t.Errorf("unhold re-offer directions %v, want [sendrecv]", dirs)
	}
	if u := sdpLine(again.Body(), "a=ice-ufrag:"); u != sdpLine(firstAnswer, "a=ice-ufrag:") {
		t.Errorf("unhold re-offer ice-ufrag %s: ICE restarted", u)
	}
	browser.answerReinvite(t, peer.testPeer, again, 200)
	browser.nextRequest(ctx, t, sip.ACK)
	fromBrowser := func(p *rtp.Packet) error { return peer.track.WriteRTP(p) }
	if n := flows(ctx, fromBrowser, atPhone, 1000, 10); n < 10 {
		t.Errorf("browser->phone after the unhold: %d packets", n)
	}
	if n := flows(ctx, fromPhone, peer.fromGateway, 60000, 10); n < 10 {
		t.Errorf("phone->browser after the unhold: %d packets", n)
	}
	if err := phoneSide.Bye(ctx); err != nil {
		t.Errorf("phone BYE: %v", err)
	}
	receive(ctx, t, browser.byes, "BYE at the browser")
}

// directionLines lists the direction attributes of an SDP body.
func directionLines(body []byte) []string {
	var out []string
	for _, l := range strings.Split(string(body), "\r\n") {
		if isDirectionLine(l) {
			out = append(out, strings.TrimPrefix(l, "a="))
		}
	}
	return out
}
