package attack

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/goleak"

	"github.com/gauntlet-rtc/gauntlet/agents/socket"
)

// fakeSIP is a UDP SIP server on loopback that drops the first copy of
// each request, answers INVITE 100 then 486 and other requests 200, and
// hands every ACK it gets to acks.
type fakeSIP struct {
	conn *net.UDPConn
	acks chan *sip.Request
	seen map[string]int // requests by branch
	done sync.WaitGroup
}

func startFakeSIP(t *testing.T) *fakeSIP {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSIP{conn: conn, acks: make(chan *sip.Request, 4), seen: map[string]int{}}
	f.done.Go(f.serve)
	t.Cleanup(func() { conn.Close(); f.done.Wait() })
	return f
}

func (f *fakeSIP) serve() {
	buf := make([]byte, 65535)
	for {
		n, from, err := f.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		msg, err := sip.ParseMessage(buf[:n])
		if err != nil {
			continue
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			continue
		}
		if req.IsAck() {
			f.acks <- req
			continue
		}
		branch, _ := req.Via().Params.Get("branch")
		if f.seen[branch]++; f.seen[branch] == 1 {
			continue // lost on the way
		}
		if req.IsInvite() {
			_, _ = f.conn.WriteToUDP([]byte(sip.NewResponseFromRequest(req, 100, "Trying", nil).String()), from)
			_, _ = f.conn.WriteToUDP([]byte(sip.NewResponseFromRequest(req, 486, "Busy Here", nil).String()), from)
			continue
		}
		_, _ = f.conn.WriteToUDP([]byte(sip.NewResponseFromRequest(req, 200, "OK", nil).String()), from)
	}
}

func fakeEnv(server string) *Env {
	return &Env{
		SIP: SIPEnv{Domain: "example.test", UDP: server},
		Net: func(opts ...socket.Option) (*socket.Net, error) {
			return socket.New(append([]socket.Option{socket.WithSourceIP(netip.MustParseAddr("127.0.0.1"))}, opts...)...)
		},
	}
}

func TestExchange(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) }) // after the fake server's cleanup
	f := startFakeSIP(t)
	p, err := openSIPPort(fakeEnv(f.conn.LocalAddr().String()), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()

	ans, err := p.exchange(ctx, p.request(sip.OPTIONS, p.uri("u"), "u", "u"), sipTimeout)
	if err != nil || ans.final.StatusCode != 200 || ans.resent != 1 {
		t.Fatalf("OPTIONS: %v, %s after %d retransmissions; want 200 after 1", err, statusText(ans.final), ans.resent)
	}

	inv := p.withOffer(p.request(sip.INVITE, p.uri("u"), "u", "u"))
	ans, err = p.exchange(ctx, inv, sipTimeout)
	if err != nil || ans.final.StatusCode != 486 || len(ans.provisional) != 1 {
		t.Fatalf("INVITE: %v, %s with %d provisional; want 486 after a 100", err, statusText(ans.final), len(ans.provisional))
	}
	select {
	case ack := <-f.acks:
		ib, _ := inv.Via().Params.Get("branch")
		ab, _ := ack.Via().Params.Get("branch")
		if ab != ib || ack.CSeq().SeqNo != inv.CSeq().SeqNo || ack.CSeq().MethodName != sip.ACK || ack.CallID().Value() != inv.CallID().Value() {
			t.Errorf("ACK does not match the INVITE's transaction:\n%s", ack)
		}
	case <-ctx.Done():
		t.Fatal("no ACK for the 486")
	}
}

func TestExchangeTimesOut(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	silent, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	p, err := openSIPPort(fakeEnv(silent.LocalAddr().String()), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ans, err := p.exchange(t.Context(), p.request(sip.OPTIONS, p.uri(""), "u", "u"), 1200*time.Millisecond)
	if err != errNoAnswer || ans.resent != 1 {
		t.Errorf("%v after %d retransmissions, want errNoAnswer after 1 (T1 500 ms, then 1 s)", err, ans.resent)
	}
}

func TestStatusLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"SIP/2.0 400 Bad Request\r\nCSeq: 36893488147419103232 REGISTER\r\n\r\n", 400},
		{"SIP/7.0 505 Version Not Supported\r\n\r\n", 505},
		{"SIP/2.0 4294967301 too big\r\n\r\n", 0},
		{"INVITE sip:a@b SIP/2.0\r\n\r\n", 0},
		{"", 0},
	} {
		res := statusLine([]byte(tc.in))
		got := 0
		if res != nil {
			got = res.StatusCode
		}
		if got != tc.want {
			t.Errorf("statusLine(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  int
		ok    bool
	}{
		{"5", 5, true},
		{" 300 ", 300, true},
		{"18000;duration=3600", 18000, true},
		{"120 (I'm in a meeting)", 120, true},
		{"soon", 0, false},
		{"-1", 0, false},
	} {
		res := sip.NewResponse(503, "Service Unavailable")
		res.AppendHeader(sip.NewHeader("Retry-After", tc.value))
		if got, ok := retryAfter(res); got != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%q) = %d, %v; want %d, %v", tc.value, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := retryAfter(sip.NewResponse(503, "Service Unavailable")); ok {
		t.Error("a Retry-After read from a 503 without one")
	}
}
