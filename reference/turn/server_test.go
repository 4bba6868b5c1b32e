package turn_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/turnload"
	"github.com/gauntlet-rtc/gauntlet/reference/turn"
	"github.com/pion/stun/v4"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T, mod func(*turn.Config)) *turn.Server {
	t.Helper()
	cfg := turn.DefaultTestConfig()
	if mod != nil {
		mod(&cfg)
	}
	s, err := turn.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// dial connects a client with REST credentials for user.
func dial(t *testing.T, s *turn.Server, transport string, server netip.AddrPort, user string) *turnload.Client {
	t.Helper()
	username, password, _ := s.Credentials(user, time.Hour)
	cfg := turnload.ClientConfig{Server: server, Transport: transport, Username: username, Password: password}
	if transport == turnload.TransportTLS {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(s.CertificatePEM()) {
			t.Fatal("no certificate")
		}
		cfg.TLS = &tls.Config{RootCAs: pool, ServerName: server.Addr().String(), MinVersion: tls.VersionTLS12}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := turnload.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestRelayOverEveryListener allocates over each listener and relays one
// datagram each way between two allocations.
func TestRelayOverEveryListener(t *testing.T) {
	s := start(t, nil)
	type listener struct {
		name, transport string
		addr            netip.AddrPort
	}
	var ls []listener
	for _, a := range s.UDPAddrs() {
		ls = append(ls, listener{"udp " + a.String(), turnload.TransportUDP, a})
	}
	for _, a := range s.TCPAddrs() {
		ls = append(ls, listener{"tcp " + a.String(), turnload.TransportTCP, a})
	}
	for _, a := range s.TLSAddrs() {
		ls = append(ls, listener{"tls " + a.String(), turnload.TransportTLS, a})
	}
	if len(ls) != 5 {
		t.Fatalf("listeners %v, want 2 udp, 2 tcp, 1 tls", ls)
	}
	for _, l := range ls {
		t.Run(l.name, func(t *testing.T) {
			a := dial(t, s, l.transport, l.addr, "alice")
			b := dial(t, s, l.transport, l.addr, "bob")
			var family []stun.Setter
			if l.addr.Addr().Is6() {
				family = append(family, turnload.RequestedFamilyIPv6)
			}
			aa, err := a.Allocate(ctx(t), 0, family...)
			if err != nil {
				t.Fatal(err)
			}
			ab, err := b.Allocate(ctx(t), 0, family...)
			if err != nil {
				t.Fatal(err)
			}
			if aa.Lifetime != turn.DefaultAllocationLifetime {
				t.Errorf("lifetime %v, want the default %v", aa.Lifetime, turn.DefaultAllocationLifetime)
			}
			if aa.Relayed.Addr().Is4() != l.addr.Addr().Is4() {
				t.Errorf("relayed %v over a %v listener: family differs", aa.Relayed, l.addr)
			}
			if err := a.CreatePermission(ctx(t), ab.Relayed); err != nil {
				t.Fatal(err)
			}
			if err := b.ChannelBind(ctx(t), 0x4001, aa.Relayed); err != nil {
				t.Fatal(err)
			}
			if err := a.Send(ab.Relayed, []byte("hello")); err != nil {
				t.Fatal(err)
			}
			d, err := b.Recv(ctx(t))
			if err != nil || string(d.Payload) != "hello" || d.From != aa.Relayed {
				t.Fatalf("b got %q from %v (%v), want hello from %v", d.Payload, d.From, err, aa.Relayed)
			}
			// ChannelData under 9 bytes is never read by pion/turn v5.1.0 over TCP
			// (its stream framer wants 9 bytes to tell STUN from ChannelData).
			if err := b.SendChannel(0x4001, []byte("hello back")); err != nil {
				t.Fatal(err)
			}
			d, err = a.Recv(ctx(t))
			if err != nil || string(d.Payload) != "hello back" || d.From != ab.Relayed {
				t.Fatalf("a got %q from %v (%v), want hello back from %v", d.Payload, d.From, err, ab.Relayed)
			}
			if _, err := a.Refresh(ctx(t), 0); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Refresh(ctx(t), 0); turnload.Code(err) != 437 {
				t.Fatalf("Refresh after delete: %v, want 437", err)
			}
		})
	}
}

func TestStartTwiceAndAfterClose(t *testing.T) {
	s, err := turn.New(turn.DefaultTestConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); !errors.Is(err, turn.ErrStarted) {
		t.Fatalf("second Start: %v, want ErrStarted", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); !errors.Is(err, turn.ErrClosed) {
		t.Fatalf("Start after Close: %v, want ErrClosed", err)
	}
}
