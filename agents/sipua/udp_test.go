package sipua_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/gauntlet-rtc/gauntlet/agents/sipua"
)

var fastTimers = sipua.Timers{T1: 20 * time.Millisecond, T2: 80 * time.Millisecond, T4: 100 * time.Millisecond}

// reply builds the peer's response to req, with the peer's To tag and Contact.
func (p *rawPeer) reply(req *sip.Request, code int, reason, tag string) string {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if code > 100 {
		res.To().Params.Add("tag", tag)
	}
	if code >= 200 && code < 300 && req.Method == sip.INVITE {
		res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "peer", Host: "127.0.0.1", Port: p.pc.LocalAddr().(*net.UDPAddr).Port}})
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.SetBody([]byte(answerSDP))
	}
	return res.String()
}

// expect reads until a message whose start line begins with prefix, failing after a second.
func (p *rawPeer) expect(prefix string) *arrival {
	p.t.Helper()
	end := time.Now().Add(time.Second)
	for time.Now().Before(end) {
		if a := p.read(time.Until(end)); a != nil && strings.HasPrefix(startLine(a.msg), prefix) {
			return a
		}
	}
	p.t.Fatalf("peer got no %q", prefix)
	return nil
}

func TestUDPCancelWaitsForProvisional(t *testing.T) {
	peer := newRawPeer(t)
	ua := newUA(t, sipua.Config{Transport: "udp", Server: peer.addr(), User: "alice", Timers: fastTimers})
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := ua.Invite(ctx, "bob", []byte(offerSDP))
		errc <- err
	}()
	first := peer.expect("INVITE ")
	inv := first.msg.(*sip.Request)
	cancel()
	// RFC 3261 §9.1: no CANCEL before a provisional response.
	for _, a := range peer.readUntil(5*fastTimers.T1, "") {
		if strings.HasPrefix(startLine(a.msg), "CANCEL") {
			t.Fatal("CANCEL sent before any 1xx")
		}
	}
	peer.write(first.from, peer.reply(inv, 180, "Ringing", "peertag"))
	c := peer.expect("CANCEL ").msg.(*sip.Request)
	if branchOf(c) != branchOf(inv) || c.CSeq().SeqNo != inv.CSeq().SeqNo || tagOf(c.To()) != "" {
		t.Errorf("CANCEL does not match its INVITE (RFC 3261 §9.1): %s", c)
	}
	peer.write(first.from, peer.reply(c, 200, "OK", "peertag"))
	terminated := peer.reply(inv, 487, "Request Terminated", "peertag")
	peer.write(first.from, terminated)
	ack := peer.expect("ACK ").msg.(*sip.Request)
	if branchOf(ack) != branchOf(inv) || tagOf(ack.To()) != "peertag" || ack.CSeq().SeqNo != 1 {
		t.Errorf("ACK for 487 is not the transaction's (RFC 3261 §17.1.1.3): %s", ack)
	}
	peer.write(first.from, terminated) // a retransmitted final gets the ACK again
	if again := peer.expect("ACK ").msg.(*sip.Request); branchOf(again) != branchOf(inv) {
		t.Errorf("ACK resent with branch %s", branchOf(again))
	}
	err := <-errc
	var se *sipua.StatusError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &se) || se.Code != 487 {
		t.Fatalf("Invite = %v, want context.Canceled with the 487", err)
	}
}

func TestUDP2xxRetransmissionIsACKedAndForksAreEnded(t *testing.T) {
	peer := newRawPeer(t)
	ua := newUA(t, sipua.Config{Transport: "udp", Server: peer.addr(), User: "alice", Timers: fastTimers})
	type result struct {
		d   *sipua.Dialog
		err error
	}
	done := make(chan result, 1)
	go func() {
		d, err := ua.Invite(ctx5(t), "bob", []byte(offerSDP))
		done <- result{d, err}
	}()
	a := peer.expect("INVITE ")
	inv := a.msg.(*sip.Request)
	ok := peer.reply(inv, 200, "OK", "leg1")
	peer.write(a.from, ok)
	ack1 := peer.expect("ACK ").msg.(*sip.Request)
	if branchOf(ack1) == branchOf(inv) || ack1.Recipient.User != "peer" {
		t.Errorf("2xx ACK must be a new transaction to the Contact (RFC 3261 §13.2.2.4): %s", ack1)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("Invite: %v", r.err)
	}
	peer.write(a.from, ok) // our "ACK was lost": the same 2xx again
	if ack2 := peer.expect("ACK ").msg.(*sip.Request); branchOf(ack2) != branchOf(ack1) {
		t.Errorf("retransmitted 2xx got a different ACK")
	}
	peer.write(a.from, peer.reply(inv, 200, "OK", "leg2")) // a forked answer
	peer.expect("ACK ")
	bye := peer.expect("BYE ").msg.(*sip.Request)
	if tagOf(bye.To()) != "leg2" {
		t.Errorf("BYE went to leg %s, want the fork leg2", tagOf(bye.To()))
	}
	peer.write(a.from, peer.reply(bye, 200, "OK", "leg2"))
	select {
	case <-r.d.Done():
		t.Fatal("the first leg's dialog ended")
	default:
	}
}

// rawInvite is an INVITE from the peer to the UA.
func rawInvite(peer *rawPeer, callID string) string {
	return fmt.Sprintf("INVITE sip:alice@127.0.0.1 SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP %s;branch=z9hG4bK%s\r\n"+
		"Max-Forwards: 70\r\n"+
		"From: <sip:peer@127.0.0.1>;tag=peertag\r\n"+
		"To: <sip:alice@127.0.0.1>\r\n"+
		"Call-ID: %s\r\n"+
		"CSeq: 7 INVITE\r\n"+
		"Contact: <sip:peer@%s>\r\n"+
		"Content-Type: application/sdp\r\n"+
		"Content-Length: %d\r\n\r\n%s", peer.addr(), callID, callID, peer.addr(), len(offerSDP), offerSDP)
}

func TestUDPAnswerRetransmits2xxUntilACK(t *testing.T) {
	peer := newRawPeer(t)
	ua := newUA(t, sipua.Config{Transport: "udp", Server: peer.addr(), User: "alice", Timers: fastTimers})
	peer.write(ua.LocalAddr(), rawInvite(peer, "acked"))
	peer.expect("SIP/2.0 100")
	si := nextIncoming(t, ua)
	type result struct {
		d   *sipua.Dialog
		err error
	}
	done := make(chan result, 1)
	go func() {
		d, err := si.Answer(ctx5(t), []byte(answerSDP))
		done <- result{d, err}
	}()
	oks := peer.readUntil(8*fastTimers.T1, "SIP/2.0 200")
	// Sent at 0, T1, 3*T1, 7*T1 (T1 doubling, RFC 3261 §13.3.1.4).
	if len(oks) < 3 || len(oks) > 5 {
		t.Fatalf("got %d copies of the 200 in 8*T1, want about 4", len(oks))
	}
	res := oks[0].msg.(*sip.Response)
	ack := fmt.Sprintf("ACK sip:alice@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKack1\r\nMax-Forwards: 70\r\n"+
		"From: <sip:peer@127.0.0.1>;tag=peertag\r\nTo: %s\r\nCall-ID: acked\r\nCSeq: 7 ACK\r\nContent-Length: 0\r\n\r\n",
		peer.addr(), res.To().Value())
	peer.write(ua.LocalAddr(), ack)
	r := <-done
	if r.err != nil {
		t.Fatalf("Answer: %v", r.err)
	}
	// One copy may have left while the ACK was on its way (a loaded
	// machine stretches that window); more means the ACK did not stop them.
	if late := peer.readUntil(4*fastTimers.T2, "SIP/2.0 200"); len(late) > 1 {
		t.Errorf("200 still retransmitted after the ACK (%d copies)", len(late))
	}
	if r.d.Timing.ACK.IsZero() {
		t.Error("Timing.ACK not recorded")
	}
}

func TestUDPAnswerWithoutACKEnds(t *testing.T) {
	peer := newRawPeer(t)
	timers := sipua.Timers{T1: 5 * time.Millisecond, T2: 20 * time.Millisecond, T4: 25 * time.Millisecond}
	ua := newUA(t, sipua.Config{Transport: "udp", Server: peer.addr(), User: "alice", Timers: timers})
	peer.write(ua.LocalAddr(), rawInvite(peer, "unacked"))
	si := nextIncoming(t, ua)
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		_, err := si.Answer(ctx5(t), []byte(answerSDP))
		errc <- err
	}()
	bye := peer.expect("BYE ").msg.(*sip.Request) // after 64*T1 = 320 ms
	if err := <-errc; !errors.Is(err, sipua.ErrNoACK) {
		t.Fatalf("Answer = %v, want ErrNoACK", err)
	}
	if el := time.Since(start); el < 64*timers.T1 {
		t.Errorf("gave up after %s, before 64*T1", el)
	}
	if bye.CallID().Value() != "unacked" || tagOf(bye.To()) != "peertag" {
		t.Errorf("BYE for the wrong dialog: %s", bye)
	}
}

func branchOf(m sip.Message) string {
	b, _ := m.Via().Params.Get("branch")
	return b
}
