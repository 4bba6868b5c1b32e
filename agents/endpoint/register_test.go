package endpoint

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/goleak"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/sipua"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
	"github.com/gauntlet-rtc/gauntlet/reports"
)

// udpRegistrar answers every REGISTER 200 and counts them.
func udpRegistrar(t *testing.T) (addr string, count *atomic.Int64) {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	count = &atomic.Int64{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			msg, err := sip.ParseMessage(buf[:n])
			req, ok := msg.(*sip.Request)
			if err != nil || !ok || req.Method != sip.REGISTER {
				continue
			}
			count.Add(1)
			res := sip.NewResponseFromRequest(req, 200, "OK", nil)
			_, _ = pc.WriteTo([]byte(res.String()), from)
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return pc.LocalAddr().String(), count
}

// A registered endpoint refreshes its binding at half the expiry, and stops
// when closed.
func TestEndpointReRegistersBeforeExpiry(t *testing.T) {
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) }) // runs last, after the registrar's cleanup
	addr, count := udpRegistrar(t)
	n, err := socket.New()
	if err != nil {
		t.Fatal(err)
	}
	clock, err := media.NewClock()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := New(ctx, Config{
		Kind: KindSIP, Net: n, Clock: clock, Codecs: []media.Codec{media.PCMU},
		SIP:            sipua.Config{Transport: sipua.TransportUDP, Server: addr, User: "desk1"},
		RegisterExpiry: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := e.Register(ctx); r.Outcome != reports.OutcomeOK {
		t.Fatalf("REGISTER: %s", r.Error)
	}
	deadline := time.After(5 * time.Second)
	for count.Load() < 3 {
		select {
		case <-deadline:
			t.Fatalf("%d REGISTERs in 5 s with a 2 s expiry, want at least 3 (refresh every 1 s)", count.Load())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	after := count.Load()
	time.Sleep(1500 * time.Millisecond) // longer than the refresh period: nothing more may come
	if got := count.Load(); got != after {
		t.Errorf("%d REGISTERs after Close, want none", got-after)
	}
}
