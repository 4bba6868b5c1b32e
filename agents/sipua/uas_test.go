package sipua_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/gauntlet-rtc/gauntlet/agents/sipua"
)

// serverCall is a call the test server places to the UA.
type serverCall struct {
	s     *testServer
	ua    *sipua.UA
	inv   *sip.Request
	from  sip.FromHeader
	tx    sip.ClientTransaction
	final *sip.Response
}

// callUA sends an INVITE from the server to the UA.
func (s *testServer) callUA(t *testing.T, ua *sipua.UA, callID string) *serverCall {
	t.Helper()
	from := sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "carol", Host: testRealm}, Params: sip.NewParams()}
	from.Params.Add("tag", "carol-tag")
	to := sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "alice", Host: testRealm}}
	inv := s.request(sip.INVITE, sip.Uri{Scheme: "sip", User: "alice", Host: testRealm}, from, to, callID, 1)
	inv.AppendHeader(&sip.ContactHeader{Address: s.contact()})
	inv.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	inv.SetBody([]byte(offerSDP))
	inv.SetTransport(map[string]string{"ws": "WS", "udp": "UDP", "tcp": "TCP"}[s.o.transport])
	inv.SetDestination(ua.LocalAddr().String())
	tx, err := s.cl.TransactionRequest(ctx5(t), inv)
	if err != nil {
		t.Fatalf("server INVITE: %v", err)
	}
	t.Cleanup(tx.Terminate)
	return &serverCall{s: s, ua: ua, inv: inv, from: from, tx: tx}
}

// awaitFinal reads responses until the final one.
func (c *serverCall) awaitFinal(t *testing.T) *sip.Response {
	t.Helper()
	c.final = c.await(t, func(code int) bool { return code >= 200 })
	return c.final
}

// await reads responses until one whose code matches.
func (c *serverCall) await(t *testing.T, match func(int) bool) *sip.Response {
	t.Helper()
	for {
		select {
		case r := <-c.tx.Responses():
			if match(r.StatusCode) {
				return r
			}
		case <-c.tx.Done():
			t.Fatalf("server INVITE ended: %v", c.tx.Err())
		case <-time.After(5 * time.Second):
			t.Fatal("no such response to the server's INVITE")
		}
	}
}

func is(code int) func(int) bool { return func(c int) bool { return c == code } }

// inDialog builds a request from the server in the call's dialog.
func (c *serverCall) inDialog(method sip.RequestMethod, cseq uint32) *sip.Request {
	req := c.s.request(method, c.final.Contact().Address, c.from, *c.final.To(), c.inv.CallID().Value(), cseq)
	req.SetTransport(c.inv.Transport())
	req.SetDestination(c.ua.LocalAddr().String())
	return req
}

func (c *serverCall) ack(t *testing.T) {
	t.Helper()
	if err := c.s.cl.WriteRequest(c.inDialog(sip.ACK, 1)); err != nil {
		t.Fatalf("server ACK: %v", err)
	}
}

// registeredUA is a UA that has registered, as a callee would: on ws the
// server has then taken its connection into use for requests toward it.
func registeredUA(t *testing.T, s *testServer, cfg sipua.Config) *sipua.UA {
	t.Helper()
	ua := newUA(t, cfg)
	if status, err := ua.Register(ctx5(t), time.Hour); err != nil || status != 200 {
		t.Fatalf("Register = %d, %v", status, err)
	}
	return ua
}

func nextIncoming(t *testing.T, ua *sipua.UA) *sipua.ServerInvite {
	t.Helper()
	select {
	case si := <-ua.Incoming():
		return si
	case <-time.After(5 * time.Second):
		t.Fatal("no INVITE on Incoming")
		return nil
	}
}

func TestIncomingAnswered(t *testing.T) {
	for _, tp := range transports {
		for _, byeFrom := range []string{"ua", "server"} {
			t.Run(tp+"/bye from "+byeFrom, func(t *testing.T) {
				s := newTestServer(t, srvOpts{transport: tp})
				ua := registeredUA(t, s, s.config("alice"))
				call := s.callUA(t, ua, "call-"+tp+byeFrom)
				si := nextIncoming(t, ua)
				if si.CallID != "call-"+tp+byeFrom || string(si.Offer) != offerSDP || si.From != "sip:carol@"+testRealm {
					t.Errorf("ServerInvite = %+v", si)
				}
				if err := si.Ringing(); err != nil {
					t.Fatalf("Ringing: %v", err)
				}
				call.await(t, is(180))
				type answered struct {
					d   *sipua.Dialog
					err error
				}
				done := make(chan answered, 1)
				go func() {
					d, err := si.Answer(ctx5(t), []byte(answerSDP))
					done <- answered{d, err}
				}()
				res := call.awaitFinal(t)
				if res.StatusCode != 200 || string(res.Body()) != answerSDP || res.Contact() == nil {
					t.Fatalf("final = %v", res)
				}
				call.ack(t)
				a := <-done
				if a.err != nil {
					t.Fatalf("Answer: %v", a.err)
				}
				d := a.d
				if d.RemoteTag != "carol-tag" || d.LocalTag != tagOf(res.To()) || string(d.RemoteSDP) != offerSDP {
					t.Errorf("dialog = %+v", d)
				}
				if tm := d.Timing; tm.Answer.Before(tm.Provisional) || tm.ACK.Before(tm.Answer) || tm.Signaling() <= 0 {
					t.Errorf("timing out of order: %+v", tm)
				}
				switch byeFrom {
				case "ua":
					if err := d.Bye(ctx5(t)); err != nil {
						t.Fatalf("Bye: %v", err)
					}
					bye := s.recv(s.byes, "BYE")
					if bye.Recipient.User != serverUser || tagOf(bye.To()) != "carol-tag" || bye.CSeq().SeqNo == 0 {
						t.Errorf("BYE %s To %s CSeq %v", bye.Recipient.String(), bye.To().Value(), bye.CSeq())
					}
				case "server":
					res, err := s.cl.Do(ctx5(t), call.inDialog(sip.BYE, 2))
					if err != nil || res.StatusCode != 200 {
						t.Fatalf("server BYE: %v %v", res, err)
					}
					waitDone(t, d)
					if !errors.Is(d.Err(), sipua.ErrRemoteHangup) {
						t.Errorf("Err = %v, want ErrRemoteHangup", d.Err())
					}
				}
			})
		}
	}
}

func tagOf(h interface{ Value() string }) string {
	var p sip.HeaderParams
	var u sip.Uri
	if _, err := sip.ParseAddressValue(h.Value(), &u, &p); err != nil {
		return ""
	}
	return p.GetOr("tag", "")
}

// The sipgo test double sends a CANCEL over TCP on a connection of its own
// toward the UA's address, where nothing listens; CANCEL toward a phone on
// TCP is checked against the reference gateway (suites/gateway).
func TestIncomingRejectedAndCanceled(t *testing.T) {
	for _, tp := range []string{"ws", "udp"} {
		t.Run(tp, func(t *testing.T) {
			s := newTestServer(t, srvOpts{transport: tp})
			ua := registeredUA(t, s, s.config("alice"))

			call := s.callUA(t, ua, "reject-"+tp)
			if err := nextIncoming(t, ua).Reject(603, "Decline"); err != nil {
				t.Fatalf("Reject: %v", err)
			}
			if res := call.awaitFinal(t); res.StatusCode != 603 {
				t.Errorf("final %d, want 603", res.StatusCode)
			}

			call = s.callUA(t, ua, "cancel-"+tp)
			si := nextIncoming(t, ua)
			if err := si.Ringing(); err != nil {
				t.Fatalf("Ringing: %v", err)
			}
			call.await(t, is(180))
			cancel := sip.NewRequest(sip.CANCEL, call.inv.Recipient)
			cancel.AppendHeader(sip.HeaderClone(call.inv.Via()))
			for _, name := range []string{"From", "To", "Call-ID", "Max-Forwards"} {
				sip.CopyHeaders(name, call.inv, cancel)
			}
			cancel.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.CANCEL})
			cancel.SetTransport(call.inv.Transport())
			cancel.SetDestination(ua.LocalAddr().String())
			res, err := s.cl.Do(ctx5(t), cancel, sipgoAsIs)
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("CANCEL: %v %v", res, err)
			}
			if res := call.awaitFinal(t); res.StatusCode != 487 {
				t.Errorf("INVITE final %d after CANCEL, want 487", res.StatusCode)
			}
			select {
			case <-si.Canceled():
			case <-time.After(5 * time.Second):
				t.Fatal("Canceled not closed")
			}
			if _, err := si.Answer(ctx5(t), []byte(answerSDP)); !errors.Is(err, sipua.ErrCanceled) {
				t.Errorf("Answer after CANCEL = %v, want ErrCanceled", err)
			}
		})
	}
}

// sipgoAsIs sends a request exactly as built.
func sipgoAsIs(*sipgo.Client, *sip.Request) error { return nil }

func TestIncomingQueueFull(t *testing.T) {
	s := newTestServer(t, srvOpts{transport: "udp"})
	cfg := s.config("alice")
	cfg.IncomingQueue = 1
	ua := registeredUA(t, s, cfg)
	first := s.callUA(t, ua, "first")
	si := nextIncoming(t, ua) // leaves the queue empty again
	_ = first
	s.callUA(t, ua, "second") // queued
	third := s.callUA(t, ua, "third")
	if res := third.awaitFinal(t); res.StatusCode != 486 {
		t.Fatalf("third INVITE got %d, want 486 (queue full)", res.StatusCode)
	}
	for _, x := range []*sipua.ServerInvite{si, nextIncoming(t, ua)} {
		if err := x.Reject(480, "Temporarily Unavailable"); err != nil {
			t.Errorf("Reject: %v", err)
		}
	}
}

func TestInboundRequests(t *testing.T) {
	tests := []struct {
		method     sip.RequestMethod
		toTag      string
		wantCode   int
		wantHeader string
	}{
		{method: sip.OPTIONS, wantCode: 200, wantHeader: "Allow"},
		{method: sip.MESSAGE, wantCode: 405, wantHeader: "Allow"},
		{method: "FROB", wantCode: 501},
		{method: sip.BYE, wantCode: 481},
		{method: sip.INFO, toTag: "no-such-dialog", wantCode: 481},
	}
	for _, tp := range transports {
		s := newTestServer(t, srvOpts{transport: tp})
		ua := registeredUA(t, s, s.config("alice"))
		for _, tt := range tests {
			t.Run(tp+"/"+string(tt.method), func(t *testing.T) {
				from := sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "carol", Host: testRealm}, Params: sip.NewParams()}
				from.Params.Add("tag", "x")
				to := sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "alice", Host: testRealm}, Params: sip.NewParams()}
				if tt.toTag != "" {
					to.Params.Add("tag", tt.toTag)
				}
				req := s.request(tt.method, sip.Uri{Scheme: "sip", User: "alice", Host: testRealm}, from, to, "req-"+tp+string(tt.method), 1)
				res, err := s.send(ctx5(t), req, ua.LocalAddr())
				if err != nil || res.StatusCode != tt.wantCode {
					t.Fatalf("%s got %v %v, want %d", tt.method, res, err, tt.wantCode)
				}
				if tt.wantHeader != "" && res.GetHeader(tt.wantHeader) == nil {
					t.Errorf("%d lacks %s", tt.wantCode, tt.wantHeader)
				}
			})
		}
	}
}

func TestCloseEndsEverything(t *testing.T) {
	s := newTestServer(t, srvOpts{transport: "ws"})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	ua, err := sipua.New(ctx, s.config("alice"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := ua.Invite(ctx, "bob", []byte(offerSDP))
	if err != nil {
		t.Fatalf("Invite: %v", err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := ua.Invite(ctx, "ring", []byte(offerSDP))
		errc <- err
	}()
	s.recv(s.ringing, "INVITE")
	if err := ua.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-errc; !errors.Is(err, sipua.ErrClosed) {
		t.Errorf("pending Invite = %v, want ErrClosed", err)
	}
	waitDone(t, d)
	if !errors.Is(d.Err(), sipua.ErrClosed) {
		t.Errorf("dialog Err = %v, want ErrClosed", d.Err())
	}
	if _, ok := <-ua.Incoming(); ok {
		t.Error("Incoming not closed")
	}
	if _, err := ua.Register(ctx, time.Minute); !errors.Is(err, sipua.ErrClosed) {
		t.Errorf("Register after Close = %v, want ErrClosed", err)
	}
	if err := ua.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// TestIdleDialogsCostNoGoroutines calls between pairs of UAs (udp, each
// caller's server is its callee) and checks that established calls add no
// goroutine beyond each UA's reader.
func TestIdleDialogsCostNoGoroutines(t *testing.T) {
	const pairs = 20
	base := runtime.NumGoroutine()
	var dialogs []*sipua.Dialog
	for i := range pairs {
		callee := newUA(t, sipua.Config{Transport: "udp", Server: "127.0.0.1:9", User: fmt.Sprintf("callee%d", i), Timers: fastTimers})
		caller := newUA(t, sipua.Config{Transport: "udp", Server: callee.LocalAddr().String(), User: fmt.Sprintf("caller%d", i), Timers: fastTimers})
		answered := make(chan *sipua.Dialog, 1)
		go func() {
			si := nextIncoming(t, callee)
			d, err := si.Answer(ctx5(t), []byte(answerSDP))
			if err != nil {
				t.Errorf("Answer: %v", err)
			}
			answered <- d
		}()
		d, err := caller.Invite(ctx5(t), "callee", []byte(offerSDP))
		if err != nil {
			t.Fatalf("Invite: %v", err)
		}
		dialogs = append(dialogs, d, <-answered)
	}
	// Timers run callbacks on short-lived goroutines, hence a little slack;
	// a goroutine per dialog would add 2*pairs.
	if got := runtime.NumGoroutine() - base; got > 2*pairs+pairs/4 {
		t.Errorf("%d calls between %d UAs hold %d goroutines, want one reader per UA", pairs, 2*pairs, got)
	}
	for i := 0; i < len(dialogs); i += 2 {
		if err := dialogs[i].Bye(ctx5(t)); err != nil {
			t.Fatalf("Bye: %v", err)
		}
		waitDone(t, dialogs[i+1])
	}
}
