package attack

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/room"
	"github.com/gauntlet-rtc/gauntlet/reports"
)

// Bounds of ip-leak.
const (
	leakTimeout     = 25 * time.Second
	leakAudio       = 10 // packets each way before the participants leave
	leakEvidenceMax = 12 // leak lines kept as evidence
)

// IPLeak joins a room with two participants that, like a browser not set
// to relay-only, offer host and server-reflexive candidates besides relay
// ones, and inspects everything that reaches each of them (offers,
// answers, candidates, every other field): in a relay-only deployment the
// service must strip anything but a TURN relay's address before it
// forwards. The verdict comes from the leak inspector (agents/room).
func IPLeak(ctx context.Context, env *Env) Outcome {
	ctx, cancel := context.WithTimeout(ctx, leakTimeout)
	defer cancel()
	clock, err := media.NewClock(media.WithShards(1))
	if err != nil {
		return Inconclusivef("pacing clock: %v", err)
	}
	stopClock, err := clock.Start(ctx)
	if err != nil {
		return Inconclusivef("pacing clock: %v", err)
	}
	defer stopClock()

	parts := make([]*room.Participant, 2)
	for i := range parts {
		n, err := env.Net()
		if err != nil {
			return Inconclusivef("socket layer: %v", err)
		}
		p, err := room.New(room.Config{URL: env.Rooms.URL, Net: n, Clock: clock, OfferAll: true, Logger: env.Logger()})
		if err != nil {
			return Inconclusivef("participant: %v", err)
		}
		defer p.Close()
		parts[i] = p
	}
	id, err := parts[0].Create(ctx)
	if err != nil {
		return Inconclusivef("creating a room: %v", err)
	}
	for i, p := range parts {
		if err := p.Join(ctx, id); err != nil {
			return Inconclusivef("participant %d joining: %v", i+1, err)
		}
	}
	connected := true
	for _, p := range parts {
		if err := p.WaitPeers(ctx, 1); err != nil {
			connected = false
		}
	}
	if connected {
		waitAudio(ctx, parts, leakAudio)
	}
	var leaks []reports.Leak
	sdps, inspected := 0, 0
	for _, p := range parts {
		_ = p.Leave(ctx)
		r := p.Report()
		leaks = append(leaks, r.Leaks...)
		inspected += r.Inspected
		for _, pr := range r.Peers {
			if pr.Media.ICE.SDPExchanged {
				sdps++
			}
		}
	}
	ev := []string{fmt.Sprintf("two participants offering host, srflx and relay candidates; %d signaling messages inspected, %d legs negotiated, media %s",
		inspected, sdps, map[bool]string{true: "flowed", false: "did not flow"}[connected])}
	if len(leaks) > 0 {
		kinds := room.LeakKindsOf(leaks)
		ev = append(ev, fmt.Sprintf("%d leaks of kinds %s", len(leaks), strings.Join(kinds, ", ")))
		for i, l := range leaks {
			if i == leakEvidenceMax {
				ev = append(ev, fmt.Sprintf("... %d more", len(leaks)-i))
				break
			}
			ev = append(ev, room.DescribeLeak(l))
		}
		return Outcome{
			Verdict: Vulnerable, Severity: High,
			Reason:   fmt.Sprintf("a peer of a relay-only room received %s", strings.Join(kinds, ", ")),
			Evidence: ev,
			Remediation: "forward only typ relay candidates, with raddr 0.0.0.0 rport 0; write 0.0.0.0 in c= and a=rtcp unless they hold a relay's address; " +
				"forward signaling as fields the service itself writes, never the sender's JSON as is; and set clients to iceTransportPolicy relay",
		}
	}
	if sdps < 2 {
		return Inconclusivef("the participants never exchanged both offer and answer (%d legs negotiated)", sdps)
	}
	return Outcome{Verdict: Resisted, Reason: "nothing but relay candidates and relay addresses reached either peer", Evidence: ev}
}

// waitAudio returns once every leg of parts received n packets, or ctx ends.
func waitAudio(ctx context.Context, parts []*room.Participant, n int) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		least := -1
		for _, p := range parts {
			for _, pr := range p.Report().Peers {
				if least < 0 || pr.Recv.Received < least {
					least = pr.Recv.Received
				}
			}
		}
		if least >= n {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
