package sipua_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/gauntlet-rtc/gauntlet/agents/sipua"
)

const (
	testRealm  = "gauntlet.test"
	offerSDP   = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
	answerSDP  = "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n"
	serverUser = "srv"
)

// srvOpts shape the far end.
type srvOpts struct {
	transport       string      // "ws" or "udp"
	password        string      // non-empty: REGISTER must carry digest credentials for it
	algs            []string    // algorithms challenged, in header order; default MD5
	wrongCode       int         // answer to wrong credentials: 401 (a new challenge, the default) or 403
	dropFirstInvite bool        // udp: the first INVITE datagram is lost
	tls             *tls.Config // wss: the server's certificate
	overloaded      int         // the first this many REGISTERs get 503 with Retry-After: 1
}

// testServer is a sipgo registrar and callee the UA under test talks to.
// The Request-URI user of an INVITE picks its behaviour: "busy" gets 486,
// "ring" gets 180 and waits for CANCEL, anything else 180 then 200.
type testServer struct {
	t    *testing.T
	o    srvOpts
	ua   *sipgo.UserAgent
	cl   *sipgo.Client
	addr *net.UDPAddr // or the TCP address, same shape
	wg   sync.WaitGroup

	acks    chan *sip.Request
	byes    chan *sip.Request
	cancels chan *sip.Request
	ringing chan *sip.Request // INVITEs to "ring" once their 180 is sent

	mu       sync.Mutex
	authAlgs []string // algorithm of every accepted credentials
	regs     []*sip.Request
	invites  []time.Time             // every INVITE datagram seen (udp), dropped or not
	calls    map[string]*sip.Request // INVITE by Call-ID
}

func newTestServer(t *testing.T, o srvOpts) *testServer {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("gauntlet-test-server"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{
		t: t, o: o, ua: ua,
		acks:    make(chan *sip.Request, 16),
		byes:    make(chan *sip.Request, 16),
		cancels: make(chan *sip.Request, 16),
		ringing: make(chan *sip.Request, 16),
		calls:   map[string]*sip.Request{},
	}
	srv.OnRegister(s.onRegister)
	srv.OnInvite(s.onInvite)
	srv.OnAck(func(req *sip.Request, _ sip.ServerTransaction) { s.acks <- req })
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		s.respond(tx, sip.NewResponseFromRequest(req, 200, "OK", nil))
		s.byes <- req
	})
	var closer func() error
	switch o.transport {
	case "ws", "wss", "tcp":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		serve := map[string]func(net.Listener) error{"ws": srv.ServeWS, "wss": srv.ServeWSS, "tcp": srv.ServeTCP}[o.transport]
		if o.transport == "wss" {
			l = tls.NewListener(l, o.tls)
		}
		a := l.Addr().(*net.TCPAddr)
		s.addr = &net.UDPAddr{IP: a.IP, Port: a.Port}
		closer = l.Close
		s.wg.Go(func() { _ = serve(l) })
	case "udp":
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s.addr = pc.LocalAddr().(*net.UDPAddr)
		closer = pc.Close
		wc := &watchedConn{PacketConn: pc, s: s, reading: make(chan struct{})}
		s.wg.Go(func() { _ = srv.ServeUDP(wc) })
		<-wc.reading // sipgo has pooled the socket: requests from the server can use it
	default:
		t.Fatalf("transport %q", o.transport)
	}
	// Requests from the server leave from its listening address, as a
	// registrar's would (sipgo would otherwise open a socket per request).
	s.cl, err = sipgo.NewClient(ua, sipgo.WithClientLogger(slog.New(slog.DiscardHandler)),
		sipgo.WithClientConnectionAddr(s.addr.String()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = closer()
		_ = ua.Close()
		s.wg.Wait()
	})
	return s
}

// watchedConn records INVITE datagrams and loses the first when asked to.
type watchedConn struct {
	net.PacketConn
	s       *testServer
	dropped bool
	reading chan struct{} // closed on the first read
	once    sync.Once
}

func (c *watchedConn) ReadFrom(p []byte) (int, net.Addr, error) {
	c.once.Do(func() { close(c.reading) })
	for {
		n, a, err := c.PacketConn.ReadFrom(p)
		if err != nil || !strings.HasPrefix(string(p[:n]), "INVITE ") {
			return n, a, err
		}
		c.s.mu.Lock()
		c.s.invites = append(c.s.invites, time.Now())
		c.s.mu.Unlock()
		if c.s.o.dropFirstInvite && !c.dropped {
			c.dropped = true
			continue
		}
		return n, a, err
	}
}

// server is what Config.Server names.
func (s *testServer) server() string {
	if s.o.transport == "udp" || s.o.transport == "tcp" {
		return s.addr.String()
	}
	return s.o.transport + "://" + s.addr.String() + "/"
}

func (s *testServer) config(user string) sipua.Config {
	return sipua.Config{
		Transport: s.o.transport,
		Server:    s.server(),
		Domain:    testRealm,
		User:      user,
		Timers:    sipua.Timers{T1: 50 * time.Millisecond, T2: 200 * time.Millisecond, T4: 250 * time.Millisecond},
	}
}

func (s *testServer) respond(tx sip.ServerTransaction, res *sip.Response) {
	if err := tx.Respond(res); err != nil {
		s.t.Errorf("test server respond %d: %v", res.StatusCode, err)
	}
}

func (s *testServer) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	s.mu.Lock()
	s.regs = append(s.regs, req)
	busy := len(s.regs) <= s.o.overloaded
	s.mu.Unlock()
	if busy {
		res := sip.NewResponseFromRequest(req, 503, "Service Unavailable", nil)
		res.AppendHeader(sip.NewHeader("Retry-After", "1"))
		s.respond(tx, res)
		return
	}
	if s.o.password == "" {
		s.respond(tx, sip.NewResponseFromRequest(req, 200, "OK", nil))
		return
	}
	if h := req.GetHeader("Authorization"); h != nil {
		if alg, ok := s.check(req, h.Value()); ok {
			s.mu.Lock()
			s.authAlgs = append(s.authAlgs, alg)
			s.mu.Unlock()
			s.respond(tx, sip.NewResponseFromRequest(req, 200, "OK", nil))
			return
		}
		if s.o.wrongCode == 403 {
			s.respond(tx, sip.NewResponseFromRequest(req, 403, "Forbidden", nil))
			return
		}
	}
	res := sip.NewResponseFromRequest(req, 401, "Unauthorized", nil)
	algs := s.o.algs
	if len(algs) == 0 {
		algs = []string{"MD5"}
	}
	for _, alg := range algs {
		c := digest.Challenge{Realm: testRealm, Nonce: strconv.FormatInt(time.Now().UnixNano(), 36), Algorithm: alg, QOP: []string{"auth"}}
		res.AppendHeader(sip.NewHeader("WWW-Authenticate", c.String()))
	}
	s.respond(tx, res)
}

// check verifies credentials against the password (the nonce is not
// checked: this registrar only tests the client).
func (s *testServer) check(req *sip.Request, value string) (string, bool) {
	cred, err := digest.ParseCredentials(value)
	if err != nil {
		s.t.Errorf("bad Authorization %q: %v", value, err)
		return "", false
	}
	want, err := digest.Digest(&digest.Challenge{Realm: cred.Realm, Nonce: cred.Nonce, Algorithm: cred.Algorithm, QOP: []string{cred.QOP}},
		digest.Options{Method: string(req.Method), URI: cred.URI, Username: cred.Username, Password: s.o.password, Cnonce: cred.Cnonce, Count: cred.Nc})
	if err != nil {
		s.t.Errorf("digest: %v", err)
		return "", false
	}
	if cred.URI != req.Recipient.String() {
		s.t.Errorf("digest uri %q, Request-URI %q", cred.URI, req.Recipient.String())
	}
	return cred.Algorithm, want.Response == cred.Response
}

// contact is the server's own URI, which Record-Route and Contact carry.
func (s *testServer) contact() sip.Uri {
	u := sip.Uri{Scheme: "sip", User: serverUser, Host: s.addr.IP.String(), Port: s.addr.Port, UriParams: sip.NewParams()}
	if s.o.transport == "ws" {
		u.UriParams.Add("transport", "ws")
	}
	return u
}

func (s *testServer) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	s.mu.Lock()
	s.calls[req.CallID().Value()] = req
	s.mu.Unlock()
	req.To().Params.Add("tag", "srvtag")
	switch req.Recipient.User {
	case "busy":
		s.respond(tx, sip.NewResponseFromRequest(req, 486, "Busy Here", nil))
	case "ring":
		tx.OnCancel(func(r *sip.Request) { s.cancels <- r })
		s.respond(tx, sip.NewResponseFromRequest(req, 180, "Ringing", nil))
		s.ringing <- req
		<-tx.Done()
	default:
		s.respond(tx, sip.NewResponseFromRequest(req, 180, "Ringing", nil))
		res := sip.NewSDPResponseFromRequest(req, []byte(answerSDP))
		res.AppendHeader(&sip.ContactHeader{Address: s.contact()})
		rr := s.contact()
		rr.User = ""
		rr.UriParams.Add("lr", "")
		res.AppendHeader(&sip.RecordRouteHeader{Address: rr})
		s.respond(tx, res)
	}
}

// send sends a request to the UA at ua, returning the final response.
func (s *testServer) send(ctx context.Context, req *sip.Request, ua net.Addr) (*sip.Response, error) {
	req.SetTransport(strings.ToUpper(s.o.transport))
	req.SetDestination(ua.String())
	return s.cl.Do(ctx, req)
}

// request builds a request from the server toward the UA; to carries the UA's tag when in a dialog.
func (s *testServer) request(method sip.RequestMethod, ruri sip.Uri, from sip.FromHeader, to sip.ToHeader, callID string, cseq uint32) *sip.Request {
	req := sip.NewRequest(method, ruri)
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	cid := sip.CallIDHeader(callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: method})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	return req
}

// bye hangs up, from the server, the call the UA placed with Call-ID callID.
func (s *testServer) bye(ctx context.Context, callID string, ua net.Addr) (*sip.Response, error) {
	s.mu.Lock()
	inv := s.calls[callID]
	s.mu.Unlock()
	if inv == nil {
		return nil, errors.New("no such call")
	}
	from := inv.To().AsFrom()
	to := inv.From().AsTo()
	req := s.request(sip.BYE, inv.Contact().Address, from, to, callID, 1)
	return s.send(ctx, req, ua)
}

func (s *testServer) recv(ch chan *sip.Request, what string) *sip.Request {
	s.t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		s.t.Fatalf("no %s reached the server", what)
		return nil
	}
}

func (s *testServer) String() string { return fmt.Sprintf("%s server %s", s.o.transport, s.addr) }
