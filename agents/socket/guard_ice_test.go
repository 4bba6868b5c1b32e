package socket_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"

	"github.com/gauntlet-rtc/gauntlet/agents/socket"
)

// The guard sits under every socket pion's ICE opens (issue #8): offered a
// remote host candidate 10.0.0.1 and one at the cloud metadata address
// 169.254.169.254, with a TURN relay candidate of its own, the agent sends
// not one datagram toward either; it may ask its TURN server for a
// permission toward 169.254.169.254 (that request goes to the server), and
// relays its checks through the server. The socket under the guard is a
// recorder on an in-memory network, so even a broken guard would send
// nothing off the machine.
func TestGuardUnderICE(t *testing.T) {
	private := netip.MustParseAddr("10.0.0.1")
	metadata := netip.MustParseAddr("169.254.169.254")
	sw := newMemSwitch()
	rec := &sendLog{}
	turnAddr := netip.MustParseAddrPort("127.0.0.1:3478")
	srv := memTURNServer(t, sw, turnAddr)
	defer func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	}()

	refused := &refusals{}
	n := newNet(t, "127.0.5.20",
		socket.WithLogger(slog.New(refused)),
		socket.WithPacketWrapper(sw.recorderWrapper(rec)))
	agent := relayAgent(t, n, turnAddr)
	defer func() {
		if err := agent.GracefulClose(); err != nil {
			t.Error(err)
		}
	}()
	waitGathered(t, agent)

	for _, raw := range []string{
		"candidate:1 1 udp 2130706431 10.0.0.1 9 typ host",
		"candidate:2 1 udp 2130706431 169.254.169.254 80 typ host",
	} {
		c, err := ice.UnmarshalCandidate(raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := agent.AddRemoteCandidate(c); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	dialed := make(chan struct{})
	go func() {
		defer close(dialed)
		_, _ = agent.Dial(ctx, "remoteufrag", "remotepasswordremotepassword") // never connects: no peer
	}()
	// Each path counts as tried once the guard refused it or, were the
	// guard broken, once a datagram toward it reached the recorder.
	tried := func(a netip.Addr) bool { return refused.has(a) || recorded(rec, a) }
	ok := waitUntil(10*time.Second, func() bool {
		return tried(private) && tried(metadata) && len(permissionsAsked(rec, turnAddr, metadata)) > 0
	})
	cancel()
	<-dialed

	if !ok {
		t.Fatalf("the agent did not try every path in time: guard refused %v, permissions asked toward %v: %v",
			refused.all(), metadata, permissionsAsked(rec, turnAddr, metadata))
	}
	sends := rec.all()
	if len(sends) == 0 {
		t.Fatal("the recorder saw nothing: the agent's sockets are not under it")
	}
	for _, s := range sends {
		if to := s.to.Addr().Unmap(); to == private || to == metadata || !to.IsLoopback() {
			t.Errorf("a datagram of %d bytes from %s reached the socket toward %s", len(s.b), s.from, s.to)
		}
	}
	if !t.Failed() {
		t.Logf("recorder: %d datagrams, all toward loopback (the TURN server); guard refused sends toward %v", len(sends), refused.all())
	}
}

// relayAgent is an ICE agent on n with host and relay candidates.
func relayAgent(t *testing.T, n *socket.Net, turnAddr netip.AddrPort) *ice.Agent {
	t.Helper()
	uri := &stun.URI{
		Scheme: stun.SchemeTypeTURN, Proto: stun.ProtoTypeUDP,
		Host: turnAddr.Addr().String(), Port: int(turnAddr.Port()), Username: "u", Password: "pw",
	}
	agent, err := ice.NewAgentWithOptions(
		ice.WithNet(n),
		ice.WithNetworkTypes([]ice.NetworkType{ice.NetworkTypeUDP4}),
		ice.WithCandidateTypes([]ice.CandidateType{ice.CandidateTypeHost, ice.CandidateTypeRelay}),
		ice.WithUrls([]*stun.URI{uri}),
		ice.WithIncludeLoopback(),
		ice.WithMulticastDNSMode(ice.MulticastDNSModeDisabled),
		ice.WithCheckInterval(50*time.Millisecond),
		ice.WithLoggerFactory(quietLogs()),
	)
	if err != nil {
		t.Fatal(err)
	}
	return agent
}

func quietLogs() logging.LoggerFactory {
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	return lf
}

// waitGathered gathers and waits for the end of gathering; it fails
// unless a relay candidate came out.
func waitGathered(t *testing.T, agent *ice.Agent) {
	t.Helper()
	done := make(chan struct{})
	var mu sync.Mutex
	var types []ice.CandidateType
	if err := agent.OnCandidate(func(c ice.Candidate) {
		if c == nil {
			close(done)
			return
		}
		mu.Lock()
		types = append(types, c.Type())
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	if err := agent.GatherCandidates(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("gathering did not complete")
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(types, ice.CandidateTypeRelay) {
		t.Fatalf("candidates %v: no relay candidate from the in-memory TURN server", types)
	}
}

// waitUntil polls cond (each poll a few milliseconds apart) until it holds
// or d passes.
func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// recorded reports whether a datagram toward a reached the recorder.
func recorded(rec *sendLog, a netip.Addr) bool {
	return slices.ContainsFunc(rec.all(), func(s sentDatagram) bool { return s.to.Addr().Unmap() == a })
}

// permissionsAsked returns the CreatePermission requests sent to the TURN
// server naming peer.
func permissionsAsked(rec *sendLog, server netip.AddrPort, peer netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, s := range rec.all() {
		if s.to != server || !stun.IsMessage(s.b) {
			continue
		}
		m := &stun.Message{Raw: s.b}
		if m.Decode() != nil || m.Type != stun.NewType(stun.MethodCreatePermission, stun.ClassRequest) {
			continue
		}
		var x stun.XORMappedAddress
		if x.GetFromAs(m, stun.AttrXORPeerAddress) != nil {
			continue
		}
		if a, ok := netip.AddrFromSlice(x.IP); ok && a.Unmap() == peer {
			out = append(out, a.Unmap())
		}
	}
	return out
}

// refusals is a slog handler that keeps the remote address of every send
// or dial the guard refused.
type refusals struct {
	mu     sync.Mutex
	remote []netip.Addr
}

func (r *refusals) Enabled(context.Context, slog.Level) bool { return true }
func (r *refusals) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *refusals) WithGroup(string) slog.Handler            { return r }

func (r *refusals) Handle(_ context.Context, rec slog.Record) error {
	if rec.Message != "send refused by the guard" && rec.Message != "dial refused by the guard" {
		return nil
	}
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key != "remote" {
			return true
		}
		var s string
		if v, ok := a.Value.Any().(net.Addr); ok {
			s = v.String()
		} else {
			s = a.Value.String()
		}
		if ap, err := netip.ParseAddrPort(s); err == nil {
			r.mu.Lock()
			r.remote = append(r.remote, ap.Addr().Unmap())
			r.mu.Unlock()
		}
		return false
	})
	return nil
}

func (r *refusals) has(a netip.Addr) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.remote, a)
}

func (r *refusals) all() []netip.Addr {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.remote)
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return slices.Compact(out)
}

// memTURNServer runs pion's TURN server on the switch (user "u", password
// "pw"), granting every permission: whatever it relays stays on the
// switch, which drops datagrams to addresses nobody attached.
func memTURNServer(t *testing.T, sw *memSwitch, addr netip.AddrPort) *pionturn.Server {
	t.Helper()
	const realm = "gauntlet.test"
	srv, err := pionturn.NewServer(pionturn.ServerConfig{
		Realm: realm,
		AuthHandler: func(ra *pionturn.RequestAttributes) (string, []byte, bool) {
			return ra.Username, pionturn.GenerateAuthKey(ra.Username, realm, "pw"), ra.Username == "u"
		},
		PacketConnConfigs: []pionturn.PacketConnConfig{{
			PacketConn:            sw.attach(addr, nil),
			RelayAddressGenerator: &memRelays{sw: sw, next: 50000},
		}},
		LoggerFactory: quietLogs(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// memRelays hands pion's TURN server relayed addresses on the switch:
// 127.0.0.1 from port 50000 up.
type memRelays struct {
	sw   *memSwitch
	mu   sync.Mutex
	next uint16
}

var errNoTCPRelay = errors.New("memRelays: UDP relays only")

func (r *memRelays) Validate() error { return nil }

func (r *memRelays) AllocatePacketConn(pionturn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	r.mu.Lock()
	port := r.next
	r.next++
	r.mu.Unlock()
	c := r.sw.attach(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), nil)
	return c, c.LocalAddr(), nil
}

func (r *memRelays) AllocateListener(pionturn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, errNoTCPRelay
}

func (r *memRelays) AllocateConn(pionturn.AllocateConnConfig) (net.Conn, error) {
	return nil, errNoTCPRelay
}
