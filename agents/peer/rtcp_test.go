package peer_test

import (
	"context"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/impair"
	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/peer"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
)

func newImpairedPeer(t *testing.T, im *impair.Impairer, mod func(*peer.Config)) *peer.Peer {
	t.Helper()
	src, err := sources.Next()
	if err != nil {
		t.Fatal(err)
	}
	n, err := socket.New(socket.WithSourceIP(src), socket.WithPacketWrapper(im.Wrap))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := peer.NewCertificate()
	if err != nil {
		t.Fatal(err)
	}
	cfg := peer.Config{Net: n, Certificate: cert}
	mod(&cfg)
	p, err := peer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// groundTruth reads the layer's log of the RTP a leg sent: lead is how
// many were dropped before the first that got through (the far end's
// RFC 3550 base), and drops how many were dropped from there up to the
// expected-th packet sent, which is what the far end's accounting covers.
// RTCPStats.Expected counts from our first packet, the far end's receiver
// from its base: they differ by lead.
func groundTruth(log *impair.Log, expected int) (lead, drops int) {
	var sent []impair.Record
	for _, r := range log.Records() {
		if r.RTP && r.Dir == impair.Out && !r.Copy {
			sent = append(sent, r)
		}
	}
	for lead < len(sent) && sent[lead].Dropped != "" {
		lead++
	}
	for _, r := range sent[lead:min(expected, len(sent))] {
		if r.Dropped != "" {
			drops++
		}
	}
	return lead, drops
}

// delivered is how many RTP packets the layer let through.
func delivered(log *impair.Log) int {
	n := 0
	for _, r := range log.Records() {
		if r.RTP && r.Dir == impair.Out && r.Delivered() {
			n++
		}
	}
	return n
}

// eventually polls cond until it holds or d passes.
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

// Two legs over SRTCP, a's side of the network losing 10% of its media and
// delaying it 40 ms: each leg's RTCP learns what the other received, which
// must match the far end's own receiver, and a round trip of about 40 ms.
func TestRTCPReportsBothWays(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	log := impair.NewLog()
	im, err := impair.New(impair.Config{
		Out:   impair.Schedule{Base: impair.Profile{Loss: 0.1, Delay: 40 * time.Millisecond}},
		Match: impair.IsMedia,
		Seed:  3,
		Log:   log,
	})
	if err != nil {
		t.Fatal(err)
	}
	fast := func(c *peer.Config) { c.RTCPInterval = 100 * time.Millisecond }
	a := newImpairedPeer(t, im, fast)
	b := newPeer(t, fast)
	codec := negotiate(t, ctx, a, b, []media.Codec{media.PCMU}, []media.Codec{media.PCMU})
	ra, rb := media.NewReceiver(codec), media.NewReceiver(codec)
	a.OnRTP(ra.Observe)
	b.OnRTP(rb.Observe)
	if errA, errB := connectBoth(ctx, a, b); errA != nil || errB != nil {
		t.Fatalf("Connect: %v / %v", errA, errB)
	}
	sa, sb := media.NewSender(codec, a.WriteRTP), media.NewSender(codec, b.WriteRTP)
	tick := time.NewTicker(media.FrameDuration)
	for range 75 { // 1.5 s of audio
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
		if err := sa.SendAt(time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := sb.SendAt(time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	tick.Stop()
	// The last packets are still 40 ms away: wait for everything the
	// network let through, then for the reports that account for it.
	eventually(t, 3*time.Second, "the last packets", func() bool {
		return rb.Stats().Received == delivered(log) && ra.Stats().Received == sb.Sent()
	})
	eventually(t, 3*time.Second, "b's last reception report", func() bool {
		s := a.Report().RTCP
		lead, _ := groundTruth(log, s.Expected)
		return s.Expected-lead == rb.Stats().Expected && s.CumulativeLost == rb.Stats().Lost
	})
	got := a.Report().RTCP
	if _, drops := groundTruth(log, got.Expected); drops == 0 || got.CumulativeLost != drops {
		t.Errorf("b reported %d lost, the network dropped %d of what b counted", got.CumulativeLost, drops)
	}
	// 40 ms on the sender report's way, and the path's own (more on a
	// loaded machine).
	if got.RTTCount == 0 || got.RTTMeanMS < 39 || got.RTTMeanMS > 100 || got.PacketsSent != sa.Sent() || got.RemoteSRs == 0 {
		t.Errorf("a's RTCP %+v", got)
	}
	d := got.Direction("a->b")
	lead, _ := groundTruth(log, got.Expected)
	if d.Sent != 75 || d.Received != rb.Stats().Received+lead || d.Lost != rb.Stats().Lost || d.DelayMS < 19 {
		t.Errorf("a->b from RTCP %+v, receiver %+v", d, rb.Stats())
	}
	eventually(t, 3*time.Second, "a's last reception report", func() bool {
		return b.Report().RTCP.Expected == ra.Stats().Expected
	})
	back := b.Report().RTCP
	if back.CumulativeLost != 0 || back.RTTCount == 0 || back.RTTMeanMS < 39 || back.RTTMeanMS > 100 || back.Unreadable != 0 {
		t.Errorf("b's RTCP %+v", back)
	}
	if r := b.Report(); r.RTCPReceived == 0 {
		t.Errorf("b counted no RTCP: %+v", r)
	}
}

func TestRTCPOff(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a := newPeer(t, func(c *peer.Config) { c.RTCPInterval = -1 })
	b := newPeer(t, func(c *peer.Config) { c.RTCPInterval = 50 * time.Millisecond })
	negotiate(t, ctx, a, b, []media.Codec{media.Opus}, []media.Codec{media.Opus})
	if errA, errB := connectBoth(ctx, a, b); errA != nil || errB != nil {
		t.Fatalf("Connect: %v / %v", errA, errB)
	}
	// b's reports reaching a show time enough for several of a's.
	eventually(t, 3*time.Second, "b's reports", func() bool { return a.Report().RTCP.PacketsReceived >= 4 })
	if s, r := a.Report().RTCP, b.Report(); s.ReportsSent != 0 || r.RTCPReceived != 0 {
		t.Fatalf("a sent %d reports and b received %d with RTCP off", s.ReportsSent, r.RTCPReceived)
	}
}
