package turn

import (
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

func TestPeerPolicy(t *testing.T) {
	self := netip.MustParseAddrPort("127.0.0.1:3478")
	cases := []struct {
		peer     string
		loopback bool
		weakened bool
		want     bool
	}{
		{"8.8.8.8:53", false, false, true},
		{"[2001:4860::8888]:53", false, false, true},
		{"10.1.2.3:9", false, false, false},
		{"172.31.255.255:9", false, false, false},
		{"172.32.0.1:9", false, false, true},
		{"192.168.0.1:9", false, false, false},
		{"100.64.0.1:9", false, false, false},
		{"100.128.0.1:9", false, false, true},
		{"169.254.169.254:80", false, false, false},
		{"0.0.0.0:9", false, false, false},
		{"224.0.0.251:5353", false, false, false},
		{"255.255.255.255:9", false, false, false},
		{"127.0.0.5:9", false, false, false},
		{"127.0.0.5:9", true, false, true},
		{"[::1]:9", false, false, false},
		{"[::1]:9", true, false, true},
		{"[::ffff:8.8.8.8]:53", false, false, false},
		{"[::ffff:127.0.0.1]:9", true, false, false},
		{"[64:ff9b::808:808]:53", false, false, false},
		{"[fd00::1]:9", false, false, false},
		{"[fe80::1]:9", false, false, false},
		{"[ff02::1]:9", false, false, false},
		{"[::]:9", false, false, false},
		{"127.0.0.1:3478", true, false, false}, // the relay's own listener
		{"127.0.0.1:3479", true, false, true},  // another port on its address: a relayed address
		{"10.1.2.3:9", false, true, true},
		{"127.0.0.1:3478", false, true, true},
	}
	for _, tc := range cases {
		c := DefaultConfig()
		c.AllowLoopbackPeers = tc.loopback
		if tc.weakened {
			c.Weaken = []string{WeakenPeerDeny}
		}
		p := newPeerPolicy(c)
		p.addSelf(self)
		if got := p.allowed(netip.MustParseAddrPort(tc.peer)); got != tc.want {
			t.Errorf("%s (loopback %v, weakened %v): allowed %v, want %v", tc.peer, tc.loopback, tc.weakened, got, tc.want)
		}
	}
}

func TestGrantedLifetime(t *testing.T) {
	cases := []struct {
		max       time.Duration
		requested int // seconds; -1: no LIFETIME
		refresh   bool
		want      time.Duration
		explicit  bool // sent to pion as a LIFETIME
	}{
		{time.Hour, -1, false, 600 * time.Second, true},
		{time.Hour, 0, false, 600 * time.Second, true},
		{time.Hour, 0, true, 0, true},
		{time.Hour, 1, false, 600 * time.Second, true},
		{time.Hour, 601, false, 601 * time.Second, true},
		{time.Hour, 3599, true, 3599 * time.Second, true},
		{time.Hour, 3600, false, time.Hour, false},
		{time.Hour, 86400, true, time.Hour, false},
		{900 * time.Second, 86400, false, 900 * time.Second, false},
		{600 * time.Second, -1, false, 600 * time.Second, false},
	}
	for _, tc := range cases {
		f := &front{maxLifetime: tc.max}
		setters := []stun.Setter{stun.TransactionID, stun.NewType(stun.MethodRefresh, stun.ClassRequest)}
		if tc.requested >= 0 {
			v := []byte{byte(tc.requested >> 24), byte(tc.requested >> 16), byte(tc.requested >> 8), byte(tc.requested)}
			setters = append(setters, stun.RawAttribute{Type: stun.AttrLifetime, Value: v})
		}
		m := stun.MustBuild(setters...)
		got, explicit := f.grantedLifetime(m, tc.refresh)
		if got != tc.want || explicit != tc.explicit {
			t.Errorf("max %v requested %d refresh %v: %v (explicit %v), want %v (explicit %v)",
				tc.max, tc.requested, tc.refresh, got, explicit, tc.want, tc.explicit)
		}
	}
}

func TestFraming(t *testing.T) {
	binding := stun.MustBuild(stun.TransactionID, stun.BindingRequest).Raw
	cases := []struct {
		name  string
		b     []byte
		stun  bool
		frame int
		err   bool
	}{
		{"binding", binding, true, 20, false},
		{"short", []byte{0, 1}, false, 0, false},
		{"channel data 5", []byte{0x40, 0, 0, 5, 1, 2, 3, 4, 5, 0, 0, 0}, false, 12, false},
		{"channel data 8", []byte{0x40, 0, 0, 8}, false, 12, false},
		{"garbage", []byte{0x80, 0, 0, 0}, false, 0, true},
		{"bad cookie", append([]byte{0, 1, 0, 0, 1, 2, 3, 4}, make([]byte, 12)...), false, 20, false},
		{"odd length", append(append([]byte{0, 1, 0, 2}, binding[4:20]...), 0, 0), false, 22, false},
	}
	for _, tc := range cases {
		if got := isSTUN(tc.b); got != tc.stun {
			t.Errorf("%s: isSTUN %v, want %v", tc.name, got, tc.stun)
		}
		n, err := frameSize(tc.b)
		if n != tc.frame || (err != nil) != tc.err {
			t.Errorf("%s: frameSize %d, %v; want %d, error %v", tc.name, n, err, tc.frame, tc.err)
		}
	}
}

func TestBucket(t *testing.T) {
	now := time.Unix(0, 0)
	b := newBucket(80_000, func() time.Time { return now }) // 10 kB/s, burst 3000 B
	sent := 0
	for range 10 { // 1 s at 20 kB/s: 20 datagrams of 1000 B every 50 ms
		for range 2 {
			if b.take(1000) {
				sent += 1000
			}
		}
		now = now.Add(100 * time.Millisecond)
	}
	if sent < 10_000 || sent > 13_000 {
		t.Fatalf("passed %d bytes in 1 s at twice a 10 kB/s cap", sent)
	}
}
