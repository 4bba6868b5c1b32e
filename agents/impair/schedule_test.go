package impair_test

import (
	"context"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/impair"
	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/plainrtp"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
)

func rtpLeg(t *testing.T, src *socket.Sources, opts ...socket.Option) *plainrtp.Leg {
	t.Helper()
	ip, err := src.Next()
	if err != nil {
		t.Fatal(err)
	}
	n, err := socket.New(append([]socket.Option{socket.WithSourceIP(ip)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := n.ListenPacket("udp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := plainrtp.New(plainrtp.Config{Conn: conn, AllowRemote: n.Guard().Allow})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// A schedule of four 100 ms outages in the second half-second windows
// shows in a receiver's per-interval figures when it was scheduled, and
// nowhere else: what the runner's per-second time series is made of.
func TestScheduledOutagesShowInIntervals(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	outage := impair.Profile{Loss: 1}
	ms := time.Millisecond
	origin := time.Now().Add(50 * ms)
	log := impair.NewLog()
	im, err := impair.New(impair.Config{
		Out: impair.Schedule{Steps: []impair.Step{
			{At: 600 * ms, For: 100 * ms, Profile: outage},
			{At: 800 * ms, For: 100 * ms, Profile: outage},
			{At: 1000 * ms, For: 100 * ms, Profile: outage},
			{At: 1200 * ms, For: 100 * ms, Profile: outage},
		}},
		Origin: origin,
		Match:  impair.IsRTP,
		Log:    log,
	})
	if err != nil {
		t.Fatal(err)
	}
	src := socket.NewSources()
	a := rtpLeg(t, src, socket.WithPacketWrapper(im.Wrap))
	b := rtpLeg(t, src)
	o, err := a.Offer(ctx, []media.Codec{media.PCMU})
	if err != nil {
		t.Fatal(err)
	}
	ans, codec, err := b.Answer(ctx, o, []media.Codec{media.PCMU})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.SetAnswer(ans); err != nil {
		t.Fatal(err)
	}
	rx := media.NewReceiver(codec)
	b.OnRTP(rx.Observe)
	for _, l := range []*plainrtp.Leg{a, b} {
		if err := l.Connect(ctx); err != nil {
			t.Fatal(err)
		}
	}
	clock, err := media.NewClock(media.WithShards(1))
	if err != nil {
		t.Fatal(err)
	}
	clockCtx, stopClock := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- clock.Run(clockCtx) }()
	defer func() { stopClock(); <-done }()
	// The clock's first tick comes at once: start the audio at the origin.
	time.Sleep(time.Until(origin)) // pacing to the schedule's time zero, not readiness
	remove := clock.Add(media.NewSender(codec, a.WriteRTP))

	var ivs []media.Interval
	for k := 1; k <= 4; k++ {
		time.Sleep(time.Until(origin.Add(time.Duration(k) * 500 * ms))) // the sampling instants
		ivs = append(ivs, rx.Interval(time.Now()))
	}
	remove()

	// Ground truth: what the layer dropped in each half second.
	truth := make([]int, 4)
	for _, r := range log.Records() {
		if r.Dropped != "" {
			truth[r.Offered.Sub(origin)/(500*ms)]++
		}
	}
	want := []struct{ lost bool }{{false}, {true}, {true}, {false}}
	for i, iv := range ivs {
		if iv.Lost != truth[i] || (iv.Lost > 0) != want[i].lost {
			t.Errorf("interval %d (%v to %v): lost %d of %d; the layer dropped %d", i,
				iv.Start.Sub(origin).Round(ms), iv.End.Sub(origin).Round(ms), iv.Lost, iv.Expected, truth[i])
		}
		if iv.Received == 0 {
			t.Errorf("interval %d received nothing", i)
		}
	}
	// Two outages of about five packets in each impaired half-second (fewer
	// when a loaded machine makes the clock skip ticks).
	if truth[1] < 2 || truth[1] > 12 || truth[2] < 2 || truth[2] > 12 {
		t.Errorf("drops per half second %v", truth)
	}
}
