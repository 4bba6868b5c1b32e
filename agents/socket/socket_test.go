package socket_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/socket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newNet(t *testing.T, src string, opts ...socket.Option) *socket.Net {
	t.Helper()
	n, err := socket.New(append([]socket.Option{socket.WithSourceIP(netip.MustParseAddr(src))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestUDPBindsSourceIP(t *testing.T) {
	a := newNet(t, "127.0.3.7")
	b := newNet(t, "127.0.3.8")
	ca, err := a.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	cb, err := b.ListenPacket("udp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	if got := ca.LocalAddr().(*net.UDPAddr).IP.String(); got != "127.0.3.7" {
		t.Fatalf("bound %s, want 127.0.3.7", got)
	}
	if _, err := ca.WriteTo([]byte("hello"), cb.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if err := cb.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, from, err := cb.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if string(buf[:n]) != "hello" || from.(*net.UDPAddr).IP.String() != "127.0.3.7" {
		t.Fatalf("far end saw %q from %v, want hello from 127.0.3.7", buf[:n], from)
	}
}

func TestBindOtherIPRefused(t *testing.T) {
	a := newNet(t, "127.0.3.7")
	if _, err := a.ListenPacket("udp4", "127.0.0.1:0"); !errors.Is(err, socket.ErrSource) {
		t.Fatalf("got %v, want ErrSource", err)
	}
	if _, err := a.ListenUDP("udp6", nil); err == nil {
		t.Fatal("udp6 on an IPv4 source: want an error")
	}
}

func TestTCPDialBindsSourceIP(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Addr, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		c, err := l.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c.RemoteAddr()
		c.Close()
	})
	defer wg.Wait()
	a := newNet(t, "127.0.3.9")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := a.DialContext(ctx, "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := (<-accepted).(*net.TCPAddr).IP.String(); got != "127.0.3.9" {
		t.Fatalf("far end saw %s, want 127.0.3.9", got)
	}
}

// recorder is a PacketConn that records what would have been sent.
type recorder struct {
	net.PacketConn // nil: only the methods below are used
	mu             sync.Mutex
	sent           []net.Addr
}

func (r *recorder) WriteTo(p []byte, addr net.Addr) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, addr)
	return len(p), nil
}

func (r *recorder) LocalAddr() net.Addr { return &net.UDPAddr{IP: net.IPv4(127, 0, 3, 7), Port: 4000} }

func TestGuardRefusesAndSendsNothing(t *testing.T) {
	rec := &recorder{}
	guard := socket.NewGuard(netip.MustParsePrefix("192.0.2.0/24"))
	var observed int
	c := socket.NewPacketConn(rec, nil, guard, func(socket.Dir, net.Addr, net.Addr, []byte) { observed++ }, nil)

	for _, dst := range []string{"10.0.0.1:5000", "169.254.169.254:80", "[2001:db8::1]:5000", "0.0.0.0:9"} {
		_, err := c.WriteTo([]byte("x"), net.UDPAddrFromAddrPort(netip.MustParseAddrPort(dst)))
		if !errors.Is(err, socket.ErrDenied) {
			t.Errorf("WriteTo %s: got %v, want ErrDenied", dst, err)
		}
	}
	if len(rec.sent) != 0 || observed != 0 {
		t.Fatalf("denied datagrams reached the socket: %v (observed %d)", rec.sent, observed)
	}
	if got := guard.Denied(); got != 4 {
		t.Fatalf("Denied() = %d, want 4", got)
	}

	allowed := []string{"127.0.0.1:5000", "127.9.9.9:1", "[::1]:5000", "192.0.2.55:7", "[::ffff:127.0.0.1]:5"}
	for _, dst := range allowed {
		if _, err := c.WriteTo([]byte("x"), net.UDPAddrFromAddrPort(netip.MustParseAddrPort(dst))); err != nil {
			t.Errorf("WriteTo %s: %v", dst, err)
		}
	}
	guard.Allow(netip.MustParseAddr("10.0.0.1"))
	if _, err := c.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 5000}); err != nil {
		t.Errorf("after Allow: %v", err)
	}
	if _, err := c.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 5000}); !errors.Is(err, socket.ErrDenied) {
		t.Errorf("10.0.0.2 after allowing 10.0.0.1: got %v, want ErrDenied", err)
	}
	if len(rec.sent) != len(allowed)+1 || observed != len(allowed)+1 {
		t.Fatalf("sent %d, observed %d, want %d", len(rec.sent), observed, len(allowed)+1)
	}
}

func TestDialDenied(t *testing.T) {
	a := newNet(t, "127.0.3.7")
	ctx := context.Background()
	for _, dst := range []string{"10.0.0.1:80", "169.254.169.254:80"} {
		if _, err := a.DialContext(ctx, "tcp", dst); !errors.Is(err, socket.ErrDenied) {
			t.Errorf("DialContext tcp %s: got %v, want ErrDenied", dst, err)
		}
		if _, err := a.Dial("udp", dst); !errors.Is(err, socket.ErrDenied) {
			t.Errorf("Dial udp %s: got %v, want ErrDenied", dst, err)
		}
		ua := net.UDPAddrFromAddrPort(netip.MustParseAddrPort(dst))
		if _, err := a.DialUDP("udp4", nil, ua); !errors.Is(err, socket.ErrDenied) {
			t.Errorf("DialUDP %s: got %v, want ErrDenied", dst, err)
		}
	}
	if got := a.Guard().Denied(); got != 6 {
		t.Fatalf("Denied() = %d, want 6", got)
	}
}

func TestObserverSeesBothDirections(t *testing.T) {
	type seen struct {
		dir    socket.Dir
		remote string
		data   string
	}
	var mu sync.Mutex
	var got []seen
	obs := func(dir socket.Dir, _, remote net.Addr, b []byte) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, seen{dir, remote.String(), string(b)})
	}
	a := newNet(t, "127.0.4.1", socket.WithObserver(obs))
	b := newNet(t, "127.0.4.2")
	ca, err := a.ListenPacket("udp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	cb, err := b.ListenPacket("udp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	if _, err := ca.WriteTo([]byte("ping"), cb.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, from, err := cb.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cb.WriteTo(buf[:n], from); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ca.ReadFrom(buf); err != nil {
		t.Fatal(err)
	}
	want := []seen{{socket.Out, cb.LocalAddr().String(), "ping"}, {socket.In, cb.LocalAddr().String(), "ping"}}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("observed %v, want %v", got, want)
	}
}

func TestSources(t *testing.T) {
	s := socket.NewSources()
	var got []string
	for range 256 {
		a, err := s.Next()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.String())
	}
	checks := map[int]string{0: "127.0.1.1", 253: "127.0.1.254", 254: "127.0.2.1", 255: "127.0.2.2"}
	for i, want := range checks {
		if got[i] != want {
			t.Errorf("address %d = %s, want %s", i, got[i], want)
		}
	}
}

// Shared sources hand the machine's addresses out in turn.
func TestSharedSources(t *testing.T) {
	a, b := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("::ffff:192.0.2.11")
	s, err := socket.NewSharedSources([]netip.Addr{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Shared() || socket.NewSources().Shared() {
		t.Fatal("Shared says the wrong thing")
	}
	var got []string
	for range 5 {
		x, err := s.Next()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, x.String())
	}
	if want := "192.0.2.10 192.0.2.11 192.0.2.10 192.0.2.11 192.0.2.10"; strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s (mapped addresses unmapped)", got, want)
	}
	if _, err := socket.NewSharedSources(nil); !errors.Is(err, socket.ErrExhausted) {
		t.Errorf("no addresses: %v, want ErrExhausted", err)
	}
}

func TestSourcesConcurrentDistinct(t *testing.T) {
	s := socket.NewSources()
	var mu sync.Mutex
	seen := map[netip.Addr]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 500 {
				a, err := s.Next()
				if err != nil {
					t.Error(err)
					return
				}
				last := a.As4()[3]
				mu.Lock()
				if seen[a] || last == 0 || last == 255 || !a.IsLoopback() {
					t.Errorf("bad or repeated address %s", a)
				}
				seen[a] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 4000 {
		t.Fatalf("%d distinct addresses, want 4000", len(seen))
	}
}
