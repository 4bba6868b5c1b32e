package nat_test

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/gauntlet-rtc/gauntlet/agents/nat"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
)

func TestFirewallCheckDial(t *testing.T) {
	udpOnly, err := nat.NewFirewall(nat.UDPBlocked, 0)
	if err != nil {
		t.Fatal(err)
	}
	port443, err := nat.NewFirewall(nat.TCPOnePort, 443)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		fw      *nat.Firewall
		network string
		to      string
		blocked bool
	}{
		{udpOnly, "udp4", "127.0.0.1:3478", true},
		{udpOnly, "tcp4", "127.0.0.1:3478", false},
		{udpOnly, "tcp4", "127.0.0.1:443", false},
		{port443, "udp4", "127.0.0.1:443", true},
		{port443, "tcp4", "127.0.0.1:443", false},
		{port443, "tcp4", "127.0.0.1:3478", true},
		{port443, "tcp6", "[::1]:5349", true},
	}
	for _, tc := range cases {
		err := tc.fw.CheckDial(tc.network, netip.MustParseAddrPort(tc.to))
		if blocked := errors.Is(err, nat.ErrBlocked); blocked != tc.blocked {
			t.Errorf("%s %s: %v, want blocked %v", tc.network, tc.to, err, tc.blocked)
		}
	}
	for _, bad := range []struct {
		t    nat.Type
		port uint16
	}{{nat.UDPBlocked, 443}, {nat.TCPOnePort, 0}, {nat.Symmetric, 0}} {
		if _, err := nat.NewFirewall(bad.t, bad.port); !errors.Is(err, nat.ErrConfig) {
			t.Errorf("NewFirewall(%s, %d): %v", bad.t, bad.port, err)
		}
	}
}

// Through the socket layer: UDP is refused at once, TCP only to the port.
func TestFirewallInSocketLayer(t *testing.T) {
	open, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	closed, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer closed.Close()
	port := uint16(open.Addr().(*net.TCPAddr).Port)
	fw, err := nat.NewFirewall(nat.TCPOnePort, port)
	if err != nil {
		t.Fatal(err)
	}
	n, err := socket.New(socket.WithSourceIP(private), socket.WithPacketWrapper(fw.Wrap), socket.WithDialCheck(fw.CheckDial))
	if err != nil {
		t.Fatal(err)
	}
	c, err := n.Dial("tcp", open.Addr().String())
	if err != nil {
		t.Fatalf("TCP to the open port: %v", err)
	}
	_ = c.Close()
	if _, err := n.Dial("tcp", closed.Addr().String()); !errors.Is(err, nat.ErrBlocked) {
		t.Fatalf("TCP to another port: %v, want ErrBlocked", err)
	}
	pc, err := n.ListenPacket("udp4", "")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	sink := listen(t, hostX)
	if _, err := pc.WriteTo([]byte("x"), sink.LocalAddr()); !errors.Is(err, nat.ErrBlocked) {
		t.Fatalf("UDP send: %v, want ErrBlocked", err)
	}
	if s := fw.Stats(); s.UDPBlocked != 1 || s.TCPRefused != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestPairingTable(t *testing.T) {
	relay := 0
	for _, a := range nat.Types {
		for _, b := range nat.Types {
			p, err := nat.ExpectedPath(a, b)
			if err != nil {
				t.Fatalf("%s/%s: %v", a, b, err)
			}
			if q, _ := nat.ExpectedPath(b, a); q != p {
				t.Errorf("%s/%s is %s but %s/%s is %s", a, b, p, b, a, q)
			}
			if p == nat.PathRelay {
				relay++
			}
		}
	}
	if relay != 3 { // port-restricted/symmetric both ways, symmetric/symmetric
		t.Errorf("%d ordered pairs need a UDP relay, want 3", relay)
	}
	for _, tc := range []struct {
		a, b nat.Type
		turn nat.TURN
		want nat.Outcome
	}{
		{nat.Symmetric, nat.Symmetric, nat.NoTURN, nat.OutcomeFail},
		{nat.Symmetric, nat.Symmetric, nat.TURNUDP, nat.OutcomeRelay},
		{nat.RestrictedCone, nat.Symmetric, nat.TURNAll, nat.OutcomeDirect},
		{nat.UDPBlocked, nat.Open, nat.TURNUDP, nat.OutcomeFail},
		{nat.TCPOnePort, nat.FullCone, nat.TURNAll, nat.OutcomeRelay},
		{nat.Open, nat.FullCone, nat.NoTURN, nat.OutcomeDirect},
	} {
		if got, _ := nat.Expected(tc.a, tc.b, tc.turn); got != tc.want {
			t.Errorf("%s/%s with TURN %d: %s, want %s", tc.a, tc.b, tc.turn, got, tc.want)
		}
	}
	if _, err := nat.ExpectedPath("cone", nat.Open); !errors.Is(err, nat.ErrConfig) {
		t.Errorf("unknown type: %v", err)
	}
}

func TestSocketOptions(t *testing.T) {
	for _, tc := range []struct {
		typ    nat.Type
		source netip.Addr
	}{
		{nat.Open, public}, {nat.UDPBlocked, public}, {nat.TCPOnePort, public},
		{nat.FullCone, private}, {nat.Symmetric, private},
	} {
		opts, err := nat.SocketOptions(tc.typ, private, public, 443)
		if err != nil {
			t.Fatalf("%s: %v", tc.typ, err)
		}
		n, err := socket.New(opts...)
		if err != nil {
			t.Fatalf("%s: %v", tc.typ, err)
		}
		if n.SourceIP() != tc.source {
			t.Errorf("%s binds %v, want %v", tc.typ, n.SourceIP(), tc.source)
		}
	}
	if _, err := nat.SocketOptions("cone", private, public, 0); !errors.Is(err, nat.ErrConfig) {
		t.Errorf("unknown type: %v", err)
	}
}
