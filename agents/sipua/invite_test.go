package sipua_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/gauntlet-rtc/gauntlet/agents/sipua"
)

// waitDone fails unless d ends within a few seconds.
func waitDone(t *testing.T, d *sipua.Dialog) {
	t.Helper()
	select {
	case <-d.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("dialog did not end")
	}
}

func TestInviteAnsweredByeFromUA(t *testing.T) {
	for _, tp := range transports {
		t.Run(tp, func(t *testing.T) {
			s := newTestServer(t, srvOpts{transport: tp})
			ua := newUA(t, s.config("alice"))
			d, err := ua.Invite(ctx5(t), "bob", []byte(offerSDP))
			if err != nil {
				t.Fatalf("Invite: %v", err)
			}
			if string(d.RemoteSDP) != answerSDP || d.RemoteTag != "srvtag" || d.LocalTag == "" || d.CallID == "" {
				t.Errorf("dialog = %+v", d)
			}
			tm := d.Timing
			if tm.Invite.IsZero() || tm.Provisional.Before(tm.Invite) || tm.Answer.Before(tm.Provisional) || tm.Signaling() <= 0 {
				t.Errorf("timing out of order: %+v", tm)
			}
			ack := s.recv(s.acks, "ACK")
			// The ACK follows the dialog: remote target from Contact, route set from Record-Route.
			if got, want := ack.Recipient.User, serverUser; got != want {
				t.Errorf("ACK Request-URI %s, want the 2xx Contact", ack.Recipient.String())
			}
			if r := ack.Route(); r == nil || r.Address.Port != s.addr.Port || !r.Address.UriParams.Has("lr") {
				t.Errorf("ACK Route = %v, want the Record-Route", r)
			}
			if ack.CSeq().SeqNo != 1 || ack.CallID().Value() != d.CallID {
				t.Errorf("ACK CSeq %v Call-ID %v", ack.CSeq(), ack.CallID())
			}
			select {
			case <-d.Done():
				t.Fatal("dialog ended before BYE")
			default:
			}
			if err := d.Bye(ctx5(t)); err != nil {
				t.Fatalf("Bye: %v", err)
			}
			bye := s.recv(s.byes, "BYE")
			if bye.CSeq().SeqNo != 2 || bye.Recipient.User != serverUser || bye.Route() == nil {
				t.Errorf("BYE %s CSeq %v Route %v", bye.Recipient.String(), bye.CSeq(), bye.Route())
			}
			waitDone(t, d)
			if !errors.Is(d.Err(), sipua.ErrLocalHangup) {
				t.Errorf("Err = %v, want ErrLocalHangup", d.Err())
			}
			if err := d.Bye(ctx5(t)); !errors.Is(err, sipua.ErrDialogEnded) {
				t.Errorf("second Bye = %v, want ErrDialogEnded", err)
			}
		})
	}
}

func TestInviteAnsweredByeFromServer(t *testing.T) {
	for _, tp := range transports {
		t.Run(tp, func(t *testing.T) {
			s := newTestServer(t, srvOpts{transport: tp})
			ua := newUA(t, s.config("alice"))
			d, err := ua.Invite(ctx5(t), "sip:bob@"+testRealm, []byte(offerSDP))
			if err != nil {
				t.Fatalf("Invite: %v", err)
			}
			s.recv(s.acks, "ACK")
			res, err := s.bye(ctx5(t), d.CallID, ua.LocalAddr())
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("server BYE: %v %v", res, err)
			}
			waitDone(t, d)
			if !errors.Is(d.Err(), sipua.ErrRemoteHangup) {
				t.Errorf("Err = %v, want ErrRemoteHangup", d.Err())
			}
			// The dialog is gone: a second BYE gets 481.
			res, err = s.bye(ctx5(t), d.CallID, ua.LocalAddr())
			if err != nil || res.StatusCode != 481 {
				t.Fatalf("BYE after the dialog ended: %v %v, want 481", res, err)
			}
		})
	}
}

func TestInviteBusy(t *testing.T) {
	for _, tp := range transports {
		t.Run(tp, func(t *testing.T) {
			s := newTestServer(t, srvOpts{transport: tp})
			ua := newUA(t, s.config("alice"))
			_, err := ua.Invite(ctx5(t), "busy", []byte(offerSDP))
			var se *sipua.StatusError
			if !errors.As(err, &se) || se.Code != 486 || se.Reason != "Busy Here" {
				t.Fatalf("Invite = %v, want StatusError 486", err)
			}
		})
	}
}

func TestInviteCancel(t *testing.T) {
	for _, tp := range transports {
		t.Run(tp, func(t *testing.T) {
			s := newTestServer(t, srvOpts{transport: tp})
			ua := newUA(t, s.config("alice"))
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			errc := make(chan error, 1)
			go func() {
				_, err := ua.Invite(ctx, "ring", []byte(offerSDP))
				errc <- err
			}()
			s.recv(s.ringing, "INVITE")
			cancel()
			err := <-errc
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Invite = %v, want context.Canceled", err)
			}
			c := s.recv(s.cancels, "CANCEL")
			if c.CSeq().SeqNo != 1 || string(c.CSeq().MethodName) != "CANCEL" {
				t.Errorf("CANCEL CSeq %v", c.CSeq())
			}
			var se *sipua.StatusError
			if !errors.As(err, &se) || se.Code != 487 {
				t.Errorf("Invite = %v, want it to carry the 487", err)
			}
		})
	}
}

func TestUDPInviteRetransmitted(t *testing.T) {
	s := newTestServer(t, srvOpts{transport: "udp", dropFirstInvite: true})
	cfg := s.config("alice")
	ua := newUA(t, cfg)
	d, err := ua.Invite(ctx5(t), "bob", []byte(offerSDP))
	if err != nil {
		t.Fatalf("Invite: %v", err)
	}
	s.mu.Lock()
	seen := append([]time.Time(nil), s.invites...)
	s.mu.Unlock()
	if len(seen) < 2 {
		t.Fatalf("server saw %d INVITE datagrams, want the lost one and a retransmission", len(seen))
	}
	if gap := seen[1].Sub(seen[0]); gap < cfg.Timers.T1*8/10 {
		t.Errorf("retransmitted after %s, want about T1 = %s (Timer A)", gap, cfg.Timers.T1)
	}
	if err := d.Bye(ctx5(t)); err != nil {
		t.Fatalf("Bye: %v", err)
	}
}

func TestUDPTimerF(t *testing.T) {
	peer := newRawPeer(t) // a registrar that never answers
	ua := newUA(t, sipua.Config{Transport: "udp", Server: peer.addr(), User: "alice",
		Timers: sipua.Timers{T1: 10 * time.Millisecond, T2: 40 * time.Millisecond, T4: 50 * time.Millisecond}})
	errc := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := ua.Register(t.Context(), time.Minute)
		errc <- err
	}()
	got := peer.readUntil(800*time.Millisecond, "REGISTER")
	err := <-errc
	if !errors.Is(err, sipua.ErrTimeout) || !errors.Is(err, sipua.ErrUnreachable) || !strings.Contains(err.Error(), peer.addr()) {
		t.Fatalf("Register = %v, want ErrTimeout and ErrUnreachable naming %s", err, peer.addr())
	}
	if el := time.Since(start); el < 640*time.Millisecond || el > 2*time.Second {
		t.Errorf("timed out after %s, want 64*T1 = 640ms", el)
	}
	// Timer E: 10, 20, 40, 40, ... ms: the first copy and about 17
	// retransmissions in 640 ms (doubling without the T2 cap would send 7).
	if len(got) < 11 || len(got) > 20 {
		t.Fatalf("registrar got %d copies, want about 18", len(got))
	}
	for i := 1; i < len(got); i++ {
		// T2 = 40 ms plus a loaded machine's timer slack (129 ms seen while
		// go test ./... ran other packages); uncapped doubling reaches 320 ms.
		if gap := got[i].at.Sub(got[i-1].at); gap > 250*time.Millisecond {
			t.Errorf("gap %d is %s, far above T2 = 40ms", i, gap)
		}
	}
}

func TestInDialogRequestsFromServer(t *testing.T) {
	for _, tp := range transports {
		t.Run(tp, func(t *testing.T) {
			s := newTestServer(t, srvOpts{transport: tp})
			ua := newUA(t, s.config("alice"))
			d, err := ua.Invite(ctx5(t), "bob", []byte(offerSDP))
			if err != nil {
				t.Fatalf("Invite: %v", err)
			}
			s.recv(s.acks, "ACK")
			s.mu.Lock()
			inv := s.calls[d.CallID]
			s.mu.Unlock()
			cseq := uint32(1)
			req := func(method sip.RequestMethod, body string) *sip.Request {
				cseq++
				r := s.request(method, inv.Contact().Address, inv.To().AsFrom(), inv.From().AsTo(), d.CallID, cseq)
				if body != "" {
					r.AppendHeader(&sip.ContactHeader{Address: s.contact()})
					r.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
					r.SetBody([]byte(body))
				}
				return r
			}
			// A session refresh (the same SDP again) is accepted with ours.
			res, err := s.send(ctx5(t), req(sip.INVITE, answerSDP), ua.LocalAddr())
			if err != nil || res.StatusCode != 200 || string(res.Body()) != offerSDP {
				t.Fatalf("refresh re-INVITE: %v %v, want 200 with our SDP", res, err)
			}
			ack := s.request(sip.ACK, res.Contact().Address, inv.To().AsFrom(), inv.From().AsTo(), d.CallID, cseq)
			ack.SetTransport(strings.ToUpper(tp))
			ack.SetDestination(ua.LocalAddr().String())
			if err := s.cl.WriteRequest(ack); err != nil {
				t.Fatal(err)
			}
			// A changed session cannot be taken: 488, and the call goes on.
			if res, err := s.send(ctx5(t), req(sip.INVITE, "v=0\r\n"), ua.LocalAddr()); err != nil || res.StatusCode != 488 {
				t.Fatalf("changing re-INVITE: %v %v, want 488", res, err)
			}
			if res, err := s.send(ctx5(t), req(sip.OPTIONS, ""), ua.LocalAddr()); err != nil || res.StatusCode != 200 {
				t.Fatalf("in-dialog OPTIONS: %v %v, want 200", res, err)
			}
			if res, err := s.send(ctx5(t), req(sip.INFO, ""), ua.LocalAddr()); err != nil || res.StatusCode != 405 {
				t.Fatalf("in-dialog INFO: %v %v, want 405", res, err)
			}
			// An older CSeq is out of order (RFC 3261 §12.2.2).
			cseq = 0
			if res, err := s.send(ctx5(t), req(sip.OPTIONS, ""), ua.LocalAddr()); err != nil || res.StatusCode != 500 {
				t.Fatalf("out-of-order request: %v %v, want 500", res, err)
			}
			select {
			case <-d.Done():
				t.Fatalf("dialog ended: %v", d.Err())
			default:
			}
			if err := d.Bye(ctx5(t)); err != nil {
				t.Fatalf("Bye: %v", err)
			}
		})
	}
}
