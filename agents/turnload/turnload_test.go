package turnload_test

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/turnload"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/pion/logging"
	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const secret = "turnload-test-secret"

// server starts a pion TURN server on loopback taking TURN REST
// credentials under secret.
func server(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	quiet := &logging.DefaultLoggerFactory{DefaultLogLevel: logging.LogLevelDisabled}
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm:         "gauntlet.test",
		LoggerFactory: quiet,
		AuthHandler:   turn.LongTermTURNRESTAuthHandler(secret, quiet.NewLogger("auth")),
		PacketConnConfigs: []turn.PacketConnConfig{{PacketConn: pc,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{RelayAddress: net.IPv4(127, 0, 0, 1), Address: "127.0.0.1"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return netip.MustParseAddrPort(pc.LocalAddr().String())
}

func TestRESTVector(t *testing.T) {
	// pion/turn lt_cred_test.go (CONFORMANCE.md).
	if got := turnload.RESTPassword("foobar", "1599491771"); got != "Tpz/nKkyvX/vMSLKvL4sbtBt8Vs=" {
		t.Fatalf("RESTPassword = %q", got)
	}
}

func TestPeerAddressKeepsFamily(t *testing.T) {
	for _, s := range []string{"192.0.2.1:3478", "[2001:db8::1]:9", "[::ffff:10.0.0.1]:9"} {
		ap := netip.MustParseAddrPort(s)
		m := stun.MustBuild(stun.TransactionID, stun.BindingRequest, turnload.PeerAddress(ap))
		raw, err := m.Get(stun.AttrXORPeerAddress)
		if err != nil {
			t.Fatal(err)
		}
		wantFamily := byte(2)
		if ap.Addr().Is4() {
			wantFamily = 1
		}
		if raw[1] != wantFamily {
			t.Errorf("%s: family %d, want %d", s, raw[1], wantFamily)
		}
		var x stun.XORMappedAddress
		if err := x.GetFromAs(m, stun.AttrXORPeerAddress); err != nil {
			t.Fatal(err)
		}
		if got, _ := netip.AddrFromSlice(x.IP); got != ap.Addr() || x.Port != int(ap.Port()) {
			t.Errorf("%s decodes to %v:%d", s, x.IP, x.Port)
		}
	}
}

func TestClient(t *testing.T) {
	srv := server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u, p := turnload.RESTCredentials(secret, "alice", time.Now().Add(time.Hour))
	c, err := turnload.Dial(ctx, turnload.ClientConfig{Server: srv, Username: u, Password: p})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mapped, err := c.Binding(ctx)
	if err != nil || int(mapped.Port()) != c.LocalAddr().(*net.UDPAddr).Port || !mapped.Addr().IsLoopback() {
		t.Fatalf("Binding: %v %v (local %v)", mapped, err, c.LocalAddr())
	}
	a, err := c.Allocate(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	pa := netip.MustParseAddrPort(peer.LocalAddr().String())
	if err := c.ChannelBind(ctx, 0x4001, pa); err != nil {
		t.Fatal(err)
	}
	if err := c.SendChannel(0x4001, []byte("over the channel")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	_ = peer.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, from, err := peer.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "over the channel" || from.String() != a.Relayed.String() {
		t.Fatalf("peer got %q from %v (%v)", buf[:n], from, err)
	}
	if _, err := peer.WriteTo([]byte("back"), from); err != nil {
		t.Fatal(err)
	}
	d, err := c.Recv(ctx)
	if err != nil || string(d.Payload) != "back" || d.From != pa {
		t.Fatalf("Recv: %q from %v (%v)", d.Payload, d.From, err)
	}
	if _, err := c.Refresh(ctx, 0); err != nil {
		t.Fatal(err)
	}
	bad, err := turnload.Dial(ctx, turnload.ClientConfig{Server: srv, Username: u, Password: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if _, err := bad.Allocate(ctx, 0); turnload.Code(err) == 0 {
		t.Fatalf("wrong password: %v, want an error response", err)
	}
}

func TestRunAllocations(t *testing.T) {
	srv := server(t)
	var mu sync.Mutex
	var got []reports.Result
	st, err := turnload.RunAllocations(context.Background(), turnload.Target{Server: srv, Secret: secret},
		turnload.AllocationLoad{Rate: 200, Count: 20}, func(r reports.Result) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, r)
		})
	if err != nil {
		t.Fatal(err)
	}
	if st.Attempted != 20 || st.OK != 20 || st.PerSecond <= 0 || st.P95 <= 0 || len(got) != 20 {
		t.Fatalf("stats %+v, %d records", st, len(got))
	}
	for _, r := range got {
		if r.Kind != turnload.KindAllocation || r.Outcome != reports.OutcomeOK || r.Phases.TotalMS <= 0 {
			t.Fatalf("record %+v", r)
		}
	}
	st, err = turnload.RunAllocations(context.Background(), turnload.Target{Server: srv, Username: "1:x", Password: "y"},
		turnload.AllocationLoad{Rate: 100, Count: 3}, nil)
	if err != nil || st.Failed != 3 || st.Codes[400]+st.Codes[401] != 3 {
		t.Fatalf("bad credentials: %+v %v", st, err)
	}
}

func TestRunFlows(t *testing.T) {
	srv := server(t)
	var mu sync.Mutex
	var got []reports.Result
	st, err := turnload.RunFlows(context.Background(), turnload.Target{Server: srv, Secret: secret},
		turnload.FlowLoad{Flows: 3, Duration: time.Second}, func(r reports.Result) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, r)
		})
	if err != nil {
		t.Fatal(err)
	}
	if st.Connected != 3 || st.Sent != 300 || st.LossPct > 1 || st.RTTP50 <= 0 || st.PacketsPerSecond < 250 {
		t.Fatalf("stats %+v", st)
	}
	if len(got) != 3 {
		t.Fatalf("%d records", len(got))
	}
	for _, r := range got {
		if r.Kind != turnload.KindFlow || r.Outcome != reports.OutcomeOK || len(r.Media) != 2 || !r.ICE.Relay {
			t.Fatalf("record %+v", r)
		}
		for _, d := range r.Media {
			if d.Sent != 50 || d.Received < 49 || d.DelayMS <= 0 || d.DelayMS > 100 {
				t.Errorf("%s: %+v", d.Name, d)
			}
		}
	}
}
