package gateway

import (
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

func TestFailures(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	for _, tc := range []struct {
		name  string
		fails []float64 // seconds after t0
		clear float64   // clear the key at this time (0: never)
		check float64
		want  time.Duration
	}{
		{name: "under the limit", fails: []float64{0, 1}, check: 2, want: 0},
		{name: "at the limit", fails: []float64{0, 1, 2}, check: 2, want: 60 * time.Second},
		{name: "lockout runs down", fails: []float64{0, 1, 2}, check: 32, want: 30 * time.Second},
		{name: "lockout over", fails: []float64{0, 1, 2}, check: 62, want: 0},
		{name: "old failures leave the window", fails: []float64{0, 1, 11}, check: 11, want: 0},
		{name: "window is per failure", fails: []float64{0, 5, 9.5}, check: 9.5, want: 60 * time.Second},
		{name: "a success clears the count", fails: []float64{0, 1, 3}, clear: 2, check: 3, want: 0},
		{name: "a success does not lift a lockout", fails: []float64{0, 1, 2}, clear: 3, check: 4, want: 58 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFailures(3, 10*time.Second, time.Minute, 16)
			cleared := false
			for _, s := range tc.fails {
				if tc.clear > 0 && !cleared && s > tc.clear {
					f.clear("u")
					cleared = true
				}
				f.fail("u", at(s))
			}
			if tc.clear > 0 && !cleared {
				f.clear("u")
			}
			if got := f.locked("u", at(tc.check)); got != tc.want {
				t.Errorf("locked = %v, want %v", got, tc.want)
			}
			if got := f.locked("other", at(tc.check)); got != 0 {
				t.Errorf("another key locked for %v", got)
			}
		})
	}
}

func TestFailuresBounded(t *testing.T) {
	f := newFailures(2, time.Minute, time.Minute, 16)
	now := time.Now()
	f.fail("victim", now)
	f.fail("victim", now)
	for i := range 1000 {
		f.fail(strconv.Itoa(i), now)
	}
	if n := f.tracked(); n != 16 {
		t.Errorf("tracked %d keys, want the bound 16", n)
	}
}

func TestLockoutKeys(t *testing.T) {
	now := time.Now()
	l := newLockout(LockoutConfig{PerUser: 2, PerSource: 3, Window: time.Minute, Duration: time.Minute}, 16)
	l.fail("alice", "10.0.0.1", now)
	l.fail("alice", "10.0.0.2", now)
	if l.locked("alice", "10.0.0.9", now) == 0 {
		t.Error("a user with 2 failures from two sources is not locked out")
	}
	if l.locked("bob", "10.0.0.1", now) != 0 {
		t.Error("a source with 1 failure is locked out")
	}
	l.fail("carol", "10.0.0.3", now)
	l.fail("dave", "10.0.0.3", now)
	l.fail("erin", "10.0.0.3", now)
	if l.locked("frank", "10.0.0.3", now) == 0 {
		t.Error("a source with 3 failures for 3 users is not locked out")
	}
	l.succeed("carol")
	if l.locked("frank", "10.0.0.3", now) == 0 {
		t.Error("a success cleared a source's lockout")
	}
}

// udpClient is a SIP UDP socket on its own loopback source, for tests that
// read answers exactly.
type udpClient struct {
	conn   *net.UDPConn
	server *net.UDPAddr
	gw     *Gateway
}

func newUDPClient(t *testing.T, gw *Gateway, ip net.IP) *udpClient {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: ip})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	server, err := net.ResolveUDPAddr("udp4", gw.UDPAddr())
	if err != nil {
		t.Fatal(err)
	}
	return &udpClient{conn: conn, server: server, gw: gw}
}

// register sends a REGISTER for user, answering chal with password when
// chal is set, and returns the answer.
func (c *udpClient) register(t *testing.T, user string, chal *sip.Response, password string) *sip.Response {
	t.Helper()
	local := c.conn.LocalAddr().(*net.UDPAddr)
	auth := ""
	if chal != nil {
		req, _ := registerBytes(c.gw.Domain(), user, local, "")
		ch, err := digest.ParseChallenge(chal.GetHeader("WWW-Authenticate").Value())
		if err != nil {
			t.Fatal(err)
		}
		cred, err := digest.Digest(ch, digest.Options{Method: "REGISTER", URI: req.Recipient.String(), Username: user, Password: password, Count: 1})
		if err != nil {
			t.Fatal(err)
		}
		auth = cred.String()
	}
	_, raw := registerBytes(c.gw.Domain(), user, local, auth)
	if _, err := c.conn.WriteToUDP(raw, c.server); err != nil {
		t.Fatal(err)
	}
	res, err := readResponse(c.conn, time.Now().Add(3*time.Second))
	if err != nil {
		t.Fatalf("REGISTER %s: %v", user, err)
	}
	return res
}

// login is a challenge and then credentials; it returns the last answer.
func (c *udpClient) login(t *testing.T, user, password string) *sip.Response {
	t.Helper()
	res := c.register(t, user, nil, "")
	if res.StatusCode != 401 {
		return res
	}
	return c.register(t, user, res, password)
}

// Wrong passwords lock the user out (and the source, for a spray), with
// 503 and Retry-After for right and wrong passwords alike, unless
// auth-lockout is weakened.
func TestWeakenAuthLockout(t *testing.T) {
	modes(t, func(t *testing.T, weak bool) {
		ctx := deadline(t, 20*time.Second)
		cfg := weakenedOr(weak, WeakenAuthLockout)
		cfg.Auth.Lockout = LockoutConfig{PerUser: 3, PerSource: 5, Window: time.Minute, Duration: 2 * time.Minute}
		// The rate limits must not answer first.
		cfg.RateLimit.RegisterPerUser = Rate{PerSecond: 100, Burst: 100}
		cfg.RateLimit.RegisterPerSource = Rate{PerSecond: 100, Burst: 100}
		gw := startGateway(ctx, t, cfg)
		password := gw.Password(KindSIP)

		guesser := newUDPClient(t, gw, net.IPv4(127, 32, 0, 1))
		for i := range 3 {
			if res := guesser.login(t, "desk2000", "wrong"); res.StatusCode != 401 {
				t.Fatalf("wrong password %d: %d, want 401", i+1, res.StatusCode)
			}
		}
		other := newUDPClient(t, gw, net.IPv4(127, 32, 0, 2))
		res := other.login(t, "desk2000", password)
		if weak {
			if res.StatusCode != 200 {
				t.Fatalf("right password after 3 wrong ones, lockout weakened: %d, want 200", res.StatusCode)
			}
		} else {
			ra := res.GetHeader("Retry-After")
			if res.StatusCode != 503 || ra == nil || ra.Value() == "" {
				t.Fatalf("right password after 3 wrong ones: %s, want 503 with Retry-After", statusOf(res))
			}
			if secs, _ := strconv.Atoi(ra.Value()); secs < 100 || secs > 120 {
				t.Errorf("Retry-After %s, want the 2-minute lockout's time left", ra.Value())
			}
			if wrong := other.login(t, "desk2000", "wrong"); wrong.StatusCode != res.StatusCode {
				t.Errorf("while locked, a wrong password got %d and the right one %d", wrong.StatusCode, res.StatusCode)
			}
			if first := other.register(t, "desk2000", nil, ""); first.StatusCode != 401 {
				t.Errorf("a locked user's REGISTER without credentials: %d, want the usual 401", first.StatusCode)
			}
		}

		// A spray: one wrong password for each of 5 users from one source.
		spray := newUDPClient(t, gw, net.IPv4(127, 32, 0, 3))
		for i := range 5 {
			user := fmt.Sprintf("desk%d", 2100+i)
			if res := spray.login(t, user, "wrong"); res.StatusCode != 401 {
				t.Fatalf("spray %s: %d, want 401", user, res.StatusCode)
			}
		}
		res = spray.login(t, "desk2001", password)
		if weak && res.StatusCode != 200 || !weak && res.StatusCode != 503 {
			t.Errorf("right password for an untouched user from the spraying source: %s (weakened=%v)", statusOf(res), weak)
		}
		if res := newUDPClient(t, gw, net.IPv4(127, 32, 0, 4)).login(t, "desk2001", password); res.StatusCode != 200 {
			t.Errorf("the same user from another source: %s, want 200", statusOf(res))
		}
	})
}

// Users outside the directory are challenged like the others, unless
// uniform-answers is weakened: then REGISTER gets 404 and INVITE 403.
func TestWeakenUniformAnswers(t *testing.T) {
	modes(t, func(t *testing.T, weak bool) {
		ctx := deadline(t, 10*time.Second)
		gw := startGateway(ctx, t, weakenedOr(weak, WeakenUniformAnswers))
		c := newUDPClient(t, gw, net.IPv4(127, 33, 0, 1))
		known := c.register(t, "desk2000", nil, "")
		unknown := c.register(t, "zzz9999", nil, "")
		if known.StatusCode != 401 {
			t.Fatalf("known user: %d, want 401", known.StatusCode)
		}
		if weak {
			if unknown.StatusCode != 404 {
				t.Errorf("unknown user, weakened: %d, want 404", unknown.StatusCode)
			}
		} else {
			if unknown.StatusCode != 401 || len(unknown.GetHeaders("WWW-Authenticate")) != len(known.GetHeaders("WWW-Authenticate")) {
				t.Errorf("unknown user: %s with %d challenges, want 401 with %d like a known one",
					statusOf(unknown), len(unknown.GetHeaders("WWW-Authenticate")), len(known.GetHeaders("WWW-Authenticate")))
			}
			if res := c.register(t, "zzz9999", unknown, "any"); res.StatusCode != 401 {
				t.Errorf("unknown user's credentials: %d, want 401 as for a wrong password", res.StatusCode)
			}
		}
		inv := c.invite(t, "zzz9999", "desk2000")
		if weak && inv.StatusCode != 403 || !weak && inv.StatusCode != 401 {
			t.Errorf("INVITE from an unknown caller: %s (weakened=%v)", statusOf(inv), weak)
		}
	})
}

// invite sends an INVITE without credentials from caller to callee, ACKs
// the final answer and returns it.
func (c *udpClient) invite(t *testing.T, caller, callee string) *sip.Response {
	t.Helper()
	local := c.conn.LocalAddr().(*net.UDPAddr)
	req, _ := registerBytes(c.gw.Domain(), caller, local, "")
	inv := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: callee, Host: c.gw.Domain()})
	for _, name := range []string{"Via", "From", "Call-ID", "Max-Forwards"} {
		inv.AppendHeader(req.GetHeader(name))
	}
	inv.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: callee, Host: c.gw.Domain()}, Params: sip.NewParams()})
	inv.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
	inv.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	inv.SetBody([]byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"))
	if _, err := c.conn.WriteToUDP([]byte(inv.String()), c.server); err != nil {
		t.Fatal(err)
	}
	for {
		res, err := readResponse(c.conn, time.Now().Add(3*time.Second))
		if err != nil {
			t.Fatalf("INVITE: %v", err)
		}
		if res.IsProvisional() {
			continue
		}
		ack := sip.NewRequest(sip.ACK, inv.Recipient)
		ack.AppendHeader(inv.Via())
		ack.AppendHeader(inv.From())
		ack.AppendHeader(res.To())
		ack.AppendHeader(inv.CallID())
		ack.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.ACK})
		ack.SetBody(nil)
		_, _ = c.conn.WriteToUDP([]byte(ack.String()), c.server)
		return res
	}
}

func statusOf(res *sip.Response) string { return fmt.Sprintf("%d %s", res.StatusCode, res.Reason) }
