package attack

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/turnload"
)

// DefaultBandwidthProbe is the rate turn-abuse offers when the env
// promises no cap: 3 Mbit/s, thirty times an audio call's direction.
const DefaultBandwidthProbe = 3_000_000

const (
	turnFixBandwidth = "Cap each allocation's relayed bandwidth near what a call needs (about 100 kbit/s per audio direction, a few Mbit/s with video; coturn: max-bps), so that a relay cannot be turned into a flood source."

	turnBurstDuration = time.Second
	turnBurstPayload  = 1000 // bytes of ChannelData payload per datagram
	turnBurstTick     = 5 * time.Millisecond
	turnBurstChannel  = 0x4000
	// A burst goes through when at least this share of what was offered
	// arrives: nothing held it back.
	turnUncappedShare = 0.8
	// With a promised cap, the delivered rate may exceed it by this factor
	// (a token bucket's initial burst) before the cap counts as broken.
	turnCapSlack = 1.5
)

// turnBandwidthCapped judges a burst from the rates in bits per second: with
// a promised cap, delivery must stay within turnCapSlack of it; without one,
// something must have held back more than a fifth of the offered rate.
func turnBandwidthCapped(offered, delivered float64, promised int64) bool {
	if promised > 0 {
		return delivered <= turnCapSlack*float64(promised)
	}
	return delivered < turnUncappedShare*offered
}

// turnBurstDue is how many datagrams of size bytes a sender at rate bits per
// second should have sent after elapsed.
func turnBurstDue(elapsed time.Duration, rate float64, size int) int {
	return int(elapsed.Seconds() * rate / 8 / float64(size))
}

// turnBurstSink counts what reaches the receiving client: probe datagrams
// ('P') apart from burst ones ('B').
type turnBurstSink struct {
	mu      sync.Mutex
	probes  int
	packets int
	bytes   int64
	last    time.Time
	probed  chan struct{}
	onceCh  sync.Once
}

func newTURNBurstSink() *turnBurstSink { return &turnBurstSink{probed: make(chan struct{})} }

func (b *turnBurstSink) onData(_ netip.AddrPort, payload []byte, at time.Time) {
	if len(payload) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch payload[0] {
	case 'P':
		b.probes++
		b.onceCh.Do(func() { close(b.probed) })
	case 'B':
		b.packets++
		b.bytes += int64(len(payload))
		b.last = at
	}
}

func (b *turnBurstSink) totals() (packets int, bytes int64, last time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.packets, b.bytes, b.last
}

// bandwidthCap relays a bounded burst from one allocation of the run to
// another (a peer the attack owns: the second allocation's relayed
// address) and compares the rate delivered with the cap.
func (s *turnSession) bandwidthCap(ctx context.Context) turnCheck {
	c := turnCheck{name: "bandwidth-cap"}
	sink := newTURNBurstSink()
	sender, recvr, ok := s.burstPath(ctx, &c, sink)
	if !ok {
		return c
	}
	for range 3 {
		if err := sender.SendChannel(turnBurstChannel, []byte("P probe")); err != nil {
			c.inconclusive("sending a probe: %v", err)
			return c
		}
	}
	select {
	case <-sink.probed:
	case <-time.After(2 * time.Second):
		c.inconclusive("nothing came through the relay path at a low rate: the cap cannot be told from a broken path")
		return c
	case <-ctx.Done():
		c.inconclusive("stopped: %v", ctx.Err())
		return c
	}
	offered := float64(DefaultBandwidthProbe)
	if p := s.env.TURN.BandwidthCap; p > 0 {
		offered = 3 * float64(p)
		c.fact("the deployment promises %.0f kbit/s per allocation and direction", float64(p)/1000)
	}
	sent, took, sendErr := turnSendBurst(ctx, sender, offered)
	if sent == 0 {
		c.inconclusive("the burst could not be sent: %v", sendErr)
		return c
	}
	if sendErr != nil {
		c.fact("sending stopped early: %v", sendErr)
	}
	packets, bytes := turnDrainBurst(ctx, sink)
	sentRate := float64(sent*turnBurstPayload*8) / took.Seconds()
	delivered := float64(bytes*8) / took.Seconds()
	c.fact("burst: %d datagrams of %d bytes in %.2f s from %s (%.0f kbit/s offered) toward the run's own relayed address %s",
		sent, turnBurstPayload, took.Seconds(), sender.LocalAddr(), sentRate/1000, recvr)
	c.fact("delivered: %d datagrams, %.0f kbit/s (%.0f%% of offered)", packets, delivered/1000, 100*delivered/sentRate)
	if turnBandwidthCapped(sentRate, delivered, s.env.TURN.BandwidthCap) {
		c.resisted("the relay held a %.0f kbit/s burst to %.0f kbit/s", sentRate/1000, delivered/1000)
		return c
	}
	c.vulnerable(Medium, turnFixBandwidth, "the relay passed %.0f kbit/s of a %.0f kbit/s burst through one allocation", delivered/1000, sentRate/1000)
	return c
}

// burstPath allocates a sender and a receiver, lets the sender's relayed
// address in at the receiver and binds a channel from the sender to the
// receiver's relayed address.
func (s *turnSession) burstPath(ctx context.Context, c *turnCheck, sink *turnBurstSink) (sender *turnload.Client, to netip.AddrPort, ok bool) {
	sender, err := s.userClient(ctx, "bw-sender", nil)
	if err != nil {
		c.inconclusive("could not open a client: %v", err)
		return nil, netip.AddrPort{}, false
	}
	receiver, err := s.userClient(ctx, "bw-receiver", sink.onData)
	if err != nil {
		c.inconclusive("could not open a client: %v", err)
		return nil, netip.AddrPort{}, false
	}
	var relayed [2]netip.AddrPort
	for i, cl := range []*turnload.Client{sender, receiver} {
		tctx, cancel := context.WithTimeout(ctx, turnStepTimeout)
		a, err := s.allocate(tctx, cl)
		cancel()
		if err != nil {
			c.inconclusive("allocation for the burst: %s", turnAnswer(err))
			return nil, netip.AddrPort{}, false
		}
		relayed[i] = a.Relayed
	}
	tctx, cancel := context.WithTimeout(ctx, turnStepTimeout)
	defer cancel()
	if err := receiver.CreatePermission(tctx, relayed[0]); err != nil {
		c.inconclusive("the relay refused the run's own peer %s (%s): no path to measure", relayed[0].Addr(), turnAnswer(err))
		return nil, netip.AddrPort{}, false
	}
	if err := sender.ChannelBind(tctx, turnBurstChannel, relayed[1]); err != nil {
		c.inconclusive("the relay refused the run's own peer %s (%s): no path to measure", relayed[1], turnAnswer(err))
		return nil, netip.AddrPort{}, false
	}
	return sender, relayed[1], true
}

// turnSendBurst sends datagrams at rate bits per second for turnBurstDuration and
// returns how many went out and over how long.
func turnSendBurst(ctx context.Context, sender *turnload.Client, rate float64) (int, time.Duration, error) {
	payload := make([]byte, turnBurstPayload)
	payload[0] = 'B'
	tick := time.NewTicker(turnBurstTick)
	defer tick.Stop()
	start := time.Now()
	sent := 0
	for {
		elapsed := time.Since(start)
		if elapsed >= turnBurstDuration {
			elapsed = turnBurstDuration
		}
		for due := turnBurstDue(elapsed, rate, turnBurstPayload); sent < due; sent++ {
			if err := sender.SendChannel(turnBurstChannel, payload); err != nil {
				return sent, time.Since(start), err
			}
		}
		if elapsed >= turnBurstDuration {
			return sent, turnBurstDuration, nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return sent, time.Since(start), ctx.Err()
		}
	}
}

// turnDrainBurst waits for the burst's last datagrams: until nothing has
// arrived for a quarter second (at most 1.5 s).
func turnDrainBurst(ctx context.Context, sink *turnBurstSink) (int, int64) {
	const quiet = 250 * time.Millisecond
	deadline := time.Now().Add(1500 * time.Millisecond)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		packets, bytes, last := sink.totals()
		now := time.Now()
		if now.After(deadline) || (!last.IsZero() && now.Sub(last) > quiet) {
			return packets, bytes
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return packets, bytes
		}
	}
}
