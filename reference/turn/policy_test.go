package turn_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/turnload"
	"github.com/gauntlet-rtc/gauntlet/reference/turn"
)

const (
	current  = "current-secret-0123456789"
	previous = "previous-secret-0123456789"
)

// client dials the relay's IPv4 UDP listener with the given credentials.
func client(t *testing.T, s *turn.Server, username, password string) *turnload.Client {
	t.Helper()
	c, err := turnload.Dial(ctx(t), turnload.ClientConfig{Server: s.UDPAddrs()[0], Username: username, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestCredentials(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	for _, weak := range []bool{false, true} {
		s := start(t, func(c *turn.Config) {
			c.Secrets = []string{current, previous}
			c.Users = map[string]string{"desk": "static-password"}
			c.Now = clock
			if weak {
				c.Weaken = []string{turn.WeakenCredentialExpiry}
			}
		})
		rest := func(secret, user string, expiry time.Time) (string, string) {
			return turnload.RESTCredentials(secret, user, expiry)
		}
		u, _ := rest(current, "alice", now.Add(time.Hour))
		_, bobPass := rest(current, "bob", now.Add(time.Hour))
		cases := []struct {
			name     string
			user, pw string
			want     int // 0: allocated
		}{
			{"current secret", u, turnload.RESTPassword(current, u), 0},
			{"previous secret (rotation)", u, turnload.RESTPassword(previous, u), 0},
			{"unknown secret", u, turnload.RESTPassword("some-other-secret-0123", u), 401},
			{"edited user part", u, bobPass, 401},
			{"static user", "desk", "static-password", 0},
			{"static user, wrong password", "desk", "guess", 401},
			{"unknown user", "nobody", "static-password", 401},
		}
		exp, expPass := rest(current, "carol", now.Add(-time.Minute))
		if weak {
			cases = append(cases, struct {
				name     string
				user, pw string
				want     int
			}{"expired, expiry check weakened", exp, expPass, 0})
		} else {
			cases = append(cases, struct {
				name     string
				user, pw string
				want     int
			}{"expired", exp, expPass, 401})
		}
		for _, tc := range cases {
			_, err := client(t, s, tc.user, tc.pw).Allocate(ctx(t), 0)
			if got := turnload.Code(err); got != tc.want || (tc.want == 0 && err != nil) {
				t.Errorf("weakened %v, %s: %v, want code %d", weak, tc.name, err, tc.want)
			}
		}
		if st := s.Stats(); st.AuthFailures == 0 || st.AllocationsActive == 0 {
			t.Errorf("stats %+v", st)
		}
	}
}

func TestQuota(t *testing.T) {
	for _, weak := range []bool{false, true} {
		s := start(t, func(c *turn.Config) {
			c.MaxAllocationsPerUser = 2
			if weak {
				c.Weaken = []string{turn.WeakenQuota}
			}
		})
		u, p, _ := s.Credentials("quota", time.Hour)
		var cs []*turnload.Client
		for range 2 {
			c := client(t, s, u, p)
			if _, err := c.Allocate(ctx(t), 0); err != nil {
				t.Fatal(err)
			}
			cs = append(cs, c)
		}
		_, err := client(t, s, u, p).Allocate(ctx(t), 0)
		if weak && err != nil {
			t.Fatalf("quota weakened: third allocation %v", err)
		}
		if weak {
			continue
		}
		if turnload.Code(err) != 486 {
			t.Fatalf("third allocation: %v, want 486", err)
		}
		if _, err := cs[0].Refresh(ctx(t), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := client(t, s, u, p).Allocate(ctx(t), 0); err != nil {
			t.Fatalf("after a delete the quota has room: %v", err)
		}
		// Another user is not counted against this one.
		v, q, _ := s.Credentials("other", time.Hour)
		if _, err := client(t, s, v, q).Allocate(ctx(t), 0); err != nil {
			t.Fatalf("another user: %v", err)
		}
		if s.Stats().QuotaRejected != 1 {
			t.Errorf("QuotaRejected %d, want 1", s.Stats().QuotaRejected)
		}
	}
}

func TestPeerDenyWeakened(t *testing.T) {
	for _, weak := range []bool{false, true} {
		s := start(t, func(c *turn.Config) {
			if weak {
				c.Weaken = []string{turn.WeakenPeerDeny}
			}
		})
		u, p, _ := s.Credentials("peers", time.Hour)
		c := client(t, s, u, p)
		if _, err := c.Allocate(ctx(t), 0); err != nil {
			t.Fatal(err)
		}
		// A request only: nothing is sent toward 10.0.0.1.
		err := c.CreatePermission(ctx(t), netip.MustParseAddrPort("10.0.0.1:9"))
		if weak && err != nil || !weak && turnload.Code(err) != 403 {
			t.Errorf("weakened %v: CreatePermission 10.0.0.1: %v", weak, err)
		}
		if !weak && s.Stats().PeerDenied != 1 {
			t.Errorf("PeerDenied %d", s.Stats().PeerDenied)
		}
	}
}

func TestBandwidthCap(t *testing.T) {
	const n, size = 40, 1000
	for _, weak := range []bool{false, true} {
		s := start(t, func(c *turn.Config) {
			c.BandwidthBitsPerSecond = 100_000 // 12.5 kB/s, burst 3000 B
			if weak {
				c.Weaken = []string{turn.WeakenBandwidthCap}
			}
		})
		u, p, _ := s.Credentials("bw", time.Hour)
		c := client(t, s, u, p)
		if _, err := c.Allocate(ctx(t), 0); err != nil {
			t.Fatal(err)
		}
		peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Close()
		pa := peer.LocalAddr().(*net.UDPAddr).AddrPort()
		if err := c.ChannelBind(ctx(t), 0x4000, pa); err != nil {
			t.Fatal(err)
		}
		payload := bytes.Repeat([]byte{1}, size)
		for range n {
			if err := c.SendChannel(0x4000, payload); err != nil {
				t.Fatal(err)
			}
		}
		got := 0
		buf := make([]byte, 2000)
		for {
			_ = peer.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			if _, _, err := peer.ReadFrom(buf); err != nil {
				break
			}
			got++
		}
		switch {
		case !weak && (got < 2 || got > 5):
			t.Errorf("capped: %d of %d datagrams passed, want about 3 (the burst)", got, n)
		case weak && got < n*9/10:
			t.Errorf("cap weakened: %d of %d datagrams passed", got, n)
		}
		if st := s.Stats(); !weak && st.BandwidthDroppedBytes < (n-5)*size {
			t.Errorf("BandwidthDroppedBytes %d", st.BandwidthDroppedBytes)
		}
	}
}

func TestPrometheusText(t *testing.T) {
	s := start(t, nil)
	var b bytes.Buffer
	if err := s.WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# TYPE gauntlet_turn_allocations_active gauge\ngauntlet_turn_allocations_active 0\n",
		"# TYPE gauntlet_turn_quota_rejected_total counter\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, b.String())
		}
	}
}

func TestMetricsEndpoint(t *testing.T) {
	s := start(t, func(c *turn.Config) { c.MetricsAddr = "127.0.0.1:0" })
	resp, err := http.Get(s.MetricsURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "gauntlet_turn_allocations_total 0") {
		t.Fatalf("GET /metrics: %d\n%s", resp.StatusCode, body)
	}
}
