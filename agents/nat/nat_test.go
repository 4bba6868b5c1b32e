package nat_test

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/nat"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Loopback addresses the tests use: the agent's private address, its NAT's
// public address, and two remote hosts.
var (
	private = netip.MustParseAddr("127.0.7.1")
	public  = netip.MustParseAddr("127.0.7.2")
	hostX   = netip.MustParseAddr("127.0.7.10")
	hostY   = netip.MustParseAddr("127.0.7.11")
)

func listen(t *testing.T, ip netip.Addr) net.PacketConn {
	t.Helper()
	c, err := net.ListenPacket("udp4", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func addr(c net.PacketConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

func behind(t *testing.T, cfg nat.Config) (*nat.NAT, net.PacketConn) {
	t.Helper()
	n, err := nat.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := n.Wrap(listen(t, private))
	t.Cleanup(func() { _ = c.Close() })
	return n, c
}

// read returns the next datagram on c within a second.
func read(t *testing.T, c net.PacketConn) (string, netip.AddrPort) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	n, from, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("read on %v: %v", c.LocalAddr(), err)
	}
	ap, _ := netip.ParseAddrPort(from.String())
	return string(buf[:n]), ap
}

func send(t *testing.T, c net.PacketConn, msg string, to netip.AddrPort) {
	t.Helper()
	if _, err := c.WriteTo([]byte(msg), net.UDPAddrFromAddrPort(to)); err != nil {
		t.Fatal(err)
	}
}

// mappedFor sends from the agent to dst and returns the source dst sees.
func mappedFor(t *testing.T, agent net.PacketConn, dst net.PacketConn) netip.AddrPort {
	t.Helper()
	send(t, agent, "ping", addr(dst))
	_, from := read(t, dst)
	return from
}

// RFC 4787 4.1: which destinations share a mapping.
func TestMapping(t *testing.T) {
	cases := []struct {
		mapping           nat.Behaviour
		samePortOtherPort bool // X:x1 and X:x2 share a mapping
		sameOtherHost     bool // X:x1 and Y:x1 share a mapping
	}{
		{nat.EndpointIndependent, true, true},
		{nat.AddressDependent, true, false},
		{nat.AddressAndPortDependent, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.mapping.String(), func(t *testing.T) {
			_, agent := behind(t, nat.Config{Mapping: tc.mapping, Filtering: nat.EndpointIndependent, Public: public})
			x1, x2, y := listen(t, hostX), listen(t, hostX), listen(t, hostY)
			m1 := mappedFor(t, agent, x1)
			if m1.Addr() != public {
				t.Fatalf("X saw %v, want the NAT's public address %v", m1, public)
			}
			if again := mappedFor(t, agent, x1); again != m1 {
				t.Errorf("same destination, new mapping: %v then %v", m1, again)
			}
			if m2 := mappedFor(t, agent, x2); (m2 == m1) != tc.samePortOtherPort {
				t.Errorf("X:x1 mapped to %v, X:x2 to %v; shared = %v, want %v", m1, m2, m2 == m1, tc.samePortOtherPort)
			}
			if m3 := mappedFor(t, agent, y); (m3 == m1) != tc.sameOtherHost {
				t.Errorf("X:x1 mapped to %v, Y:x1 to %v; shared = %v, want %v", m1, m3, m3 == m1, tc.sameOtherHost)
			}
		})
	}
}

// RFC 4787 5: which sources get through a mapping made toward X:x1.
func TestFiltering(t *testing.T) {
	cases := []struct {
		filtering     nat.Behaviour
		fromOtherPort bool // X:x2
		fromOtherHost bool // Y:y
	}{
		{nat.EndpointIndependent, true, true},
		{nat.AddressDependent, true, false},
		{nat.AddressAndPortDependent, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.filtering.String(), func(t *testing.T) {
			n, agent := behind(t, nat.Config{Mapping: nat.EndpointIndependent, Filtering: tc.filtering, Public: public})
			x1, x2, y := listen(t, hostX), listen(t, hostX), listen(t, hostY)
			m := mappedFor(t, agent, x1)
			dropped := 0
			for _, s := range []struct {
				from net.PacketConn
				want bool
				name string
			}{{x2, tc.fromOtherPort, "X:x2"}, {y, tc.fromOtherHost, "Y"}} {
				send(t, s.from, "from "+s.name, m)
				// x1 is always let in; it goes last, so once it is read
				// everything before it has been through the filter.
				send(t, x1, "marker", m)
				got, _ := read(t, agent)
				if s.want && got != "from "+s.name {
					t.Errorf("%s was filtered (read %q first)", s.name, got)
				}
				if s.want {
					if marker, _ := read(t, agent); marker != "marker" {
						t.Errorf("read %q, want the marker", marker)
					}
				} else {
					dropped++
					if got != "marker" {
						t.Errorf("%s got through (read %q)", s.name, got)
					}
				}
			}
			if f := n.Stats().Filtered; f != int64(dropped) {
				t.Errorf("Filtered %d, want %d", f, dropped)
			}
		})
	}
}

// The private address is unreachable: what is sent there never arrives.
func TestPrivateAddressUnreachable(t *testing.T) {
	_, agent := behind(t, nat.Config{Mapping: nat.EndpointIndependent, Filtering: nat.EndpointIndependent, Public: public})
	x := listen(t, hostX)
	m := mappedFor(t, agent, x)
	priv, _ := netip.ParseAddrPort(agent.LocalAddr().String())
	if priv.Addr() != private {
		t.Fatalf("LocalAddr %v, want the private address", priv)
	}
	send(t, x, "to the private address", priv)
	send(t, x, "to the mapping", m)
	if got, _ := read(t, agent); got != "to the mapping" {
		t.Fatalf("read %q", got)
	}
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// RFC 4787 REQ-5 and REQ-6: a mapping lives MappingTimeout after the last
// outbound datagram; inbound traffic does not keep it alive.
func TestMappingTimeout(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	n, agent := behind(t, nat.Config{Mapping: nat.EndpointIndependent, Filtering: nat.AddressAndPortDependent,
		Public: public, Now: clock.Now})
	x := listen(t, hostX)
	m := mappedFor(t, agent, x)
	clock.add(90 * time.Second)
	if again := mappedFor(t, agent, x); again != m {
		t.Fatalf("mapping changed before its timeout: %v then %v", m, again)
	}
	clock.add(90 * time.Second) // 180 s since creation, 90 s since the refresh
	send(t, x, "still mapped", m)
	if got, _ := read(t, agent); got != "still mapped" {
		t.Fatalf("read %q", got)
	}
	clock.add(121 * time.Second) // past the timeout since the last outbound datagram
	send(t, x, "too late", m)
	deadline := time.Now().Add(2 * time.Second)
	for n.Stats().Filtered == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a datagram to an expired mapping was not dropped")
		}
		time.Sleep(5 * time.Millisecond)
	}
	before := n.Stats().Mappings
	mappedFor(t, agent, x)
	if n.Stats().Mappings != before+1 {
		t.Errorf("no new mapping after expiry (%d mappings)", n.Stats().Mappings)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []nat.Config{
		{Public: netip.Addr{}},
		{Public: netip.IPv4Unspecified()},
		{Public: public, Mapping: 7},
		{Public: public, MappingTimeout: -time.Second},
	} {
		if _, err := nat.New(cfg); !errors.Is(err, nat.ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", cfg, err)
		}
	}
	if _, err := nat.ForType(nat.Open, public); !errors.Is(err, nat.ErrConfig) {
		t.Errorf("ForType(open): %v", err)
	}
	if _, err := nat.ParseType("cone"); !errors.Is(err, nat.ErrConfig) {
		t.Errorf("ParseType(cone): %v", err)
	}
	for _, typ := range []nat.Type{nat.FullCone, nat.RestrictedCone, nat.PortRestricted, nat.Symmetric} {
		if _, err := nat.ForType(typ, public); err != nil {
			t.Errorf("ForType(%s): %v", typ, err)
		}
	}
}
