package plainrtp_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/impair"
	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/plainrtp"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
)

type legOpts struct {
	pair  bool // an RTCP socket on RTP + 1
	mux   bool
	im    *impair.Impairer
	every time.Duration
}

func newRTCPLeg(t *testing.T, o legOpts) *plainrtp.Leg {
	t.Helper()
	src, err := sources.Next()
	if err != nil {
		t.Fatal(err)
	}
	opts := []socket.Option{socket.WithSourceIP(src)}
	if o.im != nil {
		opts = append(opts, socket.WithPacketWrapper(o.im.Wrap))
	}
	n, err := socket.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	cfg := plainrtp.Config{AllowRemote: n.Guard().Allow, RTCPMux: o.mux, RTCPInterval: o.every}
	if o.pair {
		cfg.Conn, cfg.RTCPConn, err = plainrtp.ListenPair(n.ListenPacket, src)
	} else {
		cfg.Conn, err = n.ListenPacket("udp", ":0")
	}
	if err != nil {
		t.Fatal(err)
	}
	l, err := plainrtp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(d)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestListenPair(t *testing.T) {
	n, err := socket.New(socket.WithSourceIP(netip.MustParseAddr("127.0.9.2")))
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		r, c, err := plainrtp.ListenPair(n.ListenPacket, n.SourceIP())
		if err != nil {
			t.Fatal(err)
		}
		rp := netip.MustParseAddrPort(r.LocalAddr().String())
		cp := netip.MustParseAddrPort(c.LocalAddr().String())
		if rp.Port()%2 != 0 || cp.Port() != rp.Port()+1 || rp.Addr() != n.SourceIP() || cp.Addr() != n.SourceIP() {
			t.Fatalf("pair %v %v", rp, cp)
		}
		_ = r.Close()
		_ = c.Close()
	}
}

// exchange sets up a call between a and b, sends 0.8 s of audio both ways
// and waits until each side's RTCP has the other's final account. truth,
// if set, says what the network did to a's packets: how many it let
// through, and how many of the first it dropped (RTCP counts those as
// expected, b's receiver, whose base is the first to arrive, does not).
// Without it, all of a's packets arrive.
func exchange(t *testing.T, a, b *plainrtp.Leg, truth func() (delivered, lead int)) (offer, answer string, ra, rb *media.Receiver) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	o, err := a.Offer(ctx, []media.Codec{media.PCMU})
	if err != nil {
		t.Fatal(err)
	}
	ans, cb, err := b.Answer(ctx, o, []media.Codec{media.PCMU})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := a.SetAnswer(ans)
	if err != nil {
		t.Fatal(err)
	}
	ra, rb = media.NewReceiver(ca), media.NewReceiver(cb)
	a.OnRTP(ra.Observe)
	b.OnRTP(rb.Observe)
	for _, l := range []*plainrtp.Leg{a, b} {
		if err := l.Connect(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sa, sb := media.NewSender(ca, a.WriteRTP), media.NewSender(cb, b.WriteRTP)
	tick := time.NewTicker(media.FrameDuration)
	defer tick.Stop()
	for range 40 {
		<-tick.C
		if err := sa.SendAt(time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := sb.SendAt(time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if truth == nil {
		truth = func() (int, int) { return sa.Sent(), 0 }
	}
	eventually(t, 3*time.Second, "the last packets", func() bool {
		delivered, _ := truth()
		return rb.Stats().Received == delivered && ra.Stats().Received == sb.Sent()
	})
	eventually(t, 3*time.Second, "final reception reports", func() bool {
		_, lead := truth()
		return a.Report().RTCP.Expected-lead == rb.Stats().Expected && b.Report().RTCP.Expected == ra.Stats().Expected
	})
	return string(o), string(ans), ra, rb
}

func TestRTCPOnThePortAbove(t *testing.T) {
	t.Parallel()
	log := impair.NewLog()
	im, err := impair.New(impair.Config{
		Out:   impair.Schedule{Base: impair.Profile{Loss: 0.1, Delay: 30 * time.Millisecond}},
		Match: impair.IsMedia,
		Seed:  5,
		Log:   log,
	})
	if err != nil {
		t.Fatal(err)
	}
	a := newRTCPLeg(t, legOpts{pair: true, im: im, every: 100 * time.Millisecond})
	b := newRTCPLeg(t, legOpts{pair: true, every: 100 * time.Millisecond})
	// sent is what a sent, as the layer logged it; lead is how many were
	// dropped before the first that got through (b's RFC 3550 base).
	sent := func() (recs []impair.Record, lead int) {
		for _, r := range log.Records() {
			if r.RTP && r.Dir == impair.Out {
				recs = append(recs, r)
			}
		}
		for lead < len(recs) && recs[lead].Dropped != "" {
			lead++
		}
		return recs, lead
	}
	offer, _, _, rb := exchange(t, a, b, func() (delivered, lead int) {
		recs, lead := sent()
		for _, r := range recs {
			if r.Delivered() {
				delivered++
			}
		}
		return delivered, lead
	})
	if strings.Contains(offer, "rtcp-mux") || strings.Contains(offer, "a=rtcp:") {
		t.Fatalf("offer says more than needed for RTP + 1:\n%s", offer)
	}
	st := a.Report().RTCP
	recs, lead := sent()
	drops := 0
	for _, r := range recs[lead:min(st.Expected, len(recs))] {
		if r.Dropped != "" {
			drops++
		}
	}
	if drops == 0 || st.CumulativeLost != rb.Stats().Lost || st.CumulativeLost != drops {
		t.Errorf("b reported %d lost; its receiver says %d; the network dropped %d of what b counted", st.CumulativeLost, rb.Stats().Lost, drops)
	}
	// 30 ms on the sender report's way, and the path's own.
	if st.RTTCount == 0 || st.RTTMeanMS < 29 || st.RTTMeanMS > 100 || st.RemoteSRs == 0 {
		t.Errorf("a's RTCP %+v", st)
	}
	if r := b.Report(); r.RTCPReceived == 0 || r.RTCP.Unreadable != 0 || r.RTCP.RTTCount == 0 {
		t.Errorf("b's report %+v", r)
	}
}

func TestRTCPMux(t *testing.T) {
	t.Parallel()
	a := newRTCPLeg(t, legOpts{mux: true, every: 100 * time.Millisecond})
	b := newRTCPLeg(t, legOpts{mux: true, every: 100 * time.Millisecond})
	offer, answer, _, _ := exchange(t, a, b, nil)
	if !strings.Contains(offer, "a=rtcp-mux") || !strings.Contains(answer, "a=rtcp-mux") {
		t.Fatalf("rtcp-mux not negotiated:\n%s\n%s", offer, answer)
	}
	for _, l := range []*plainrtp.Leg{a, b} {
		if r := l.Report(); r.RTCPReceived == 0 || r.RTCP.RTTCount == 0 || r.RTCP.CumulativeLost != 0 {
			t.Errorf("report %+v", r)
		}
	}
}

func TestRTCPMuxRefusedFallsBackToThePortAbove(t *testing.T) {
	t.Parallel()
	a := newRTCPLeg(t, legOpts{mux: true, pair: true, every: 100 * time.Millisecond})
	b := newRTCPLeg(t, legOpts{pair: true, every: 100 * time.Millisecond})
	_, answer, _, _ := exchange(t, a, b, nil)
	if strings.Contains(answer, "rtcp-mux") {
		t.Fatalf("answer accepted rtcp-mux it was not configured for:\n%s", answer)
	}
	if r := a.Report(); r.RTCP.RTTCount == 0 {
		t.Errorf("report %+v", r)
	}
}

func TestNoRTCPWithoutASocketOrMux(t *testing.T) {
	a := newRTCPLeg(t, legOpts{mux: true, every: 50 * time.Millisecond})
	b := newRTCPLeg(t, legOpts{every: 50 * time.Millisecond}) // neither
	ctx := context.Background()
	o, err := a.Offer(ctx, []media.Codec{media.PCMU})
	if err != nil {
		t.Fatal(err)
	}
	ans, _, err := b.Answer(ctx, o, []media.Codec{media.PCMU})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.SetAnswer(ans); err != nil {
		t.Fatal(err)
	}
	if err := a.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	// 300 ms of audio is six report intervals.
	s := media.NewSender(media.PCMU, a.WriteRTP)
	tick := time.NewTicker(media.FrameDuration)
	defer tick.Stop()
	for range 15 {
		<-tick.C
		if err := s.SendAt(time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 2*time.Second, "the audio", func() bool { return b.Report().RTPReceived == 15 })
	if a.Report().RTCP.ReportsSent != 0 || b.Report().RTCPReceived != 0 {
		t.Fatal("a sends RTCP though mux was refused and it has no RTCP socket")
	}
}
