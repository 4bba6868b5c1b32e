package endpoint

import (
	"context"
	"fmt"
	"sync"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/reports"
)

// PlaceDirectCall runs one whole call between two webrtc endpoints whose
// SDP the harness hands across in-process, as two browsers whose app
// relays offer and answer: no SIP and no gateway, so the media path is
// whatever ICE finds between them (direct, or through their TURN relays),
// which is what NAT emulation needs to mean something. The record is the
// same as PlaceCall's, with ICE taken from the caller's side and Relay
// set when either side relays.
func PlaceDirectCall(ctx context.Context, caller, callee *Endpoint, spec CallSpec) reports.Result {
	spec = spec.withDefaults()
	out, in := caller.newLeg(true, callee.User()), callee.newLeg(false, caller.User())
	out.direct, in.direct = true, true
	setupCtx, cancelSetup := context.WithTimeout(ctx, spec.Setup)
	defer cancelSetup()
	if err := negotiateDirect(setupCtx, out, in); err == nil {
		var wg sync.WaitGroup
		wg.Go(func() { out.startMedia(setupCtx, out.codecOf()) })
		wg.Go(func() { in.startMedia(setupCtx, in.codecOf()) })
		wg.Wait()
	}
	return holdAndRecord(ctx, spec, out, in, func(callerRep, calleeRep LegReport) reports.Result {
		res := Combine(spec.ID, callerRep, &calleeRep)
		res.ICE.Relay = res.ICE.Relay || calleeRep.Media.ICE.Relay
		if res.ICE.RelayProtocol == "" {
			res.ICE.RelayProtocol = calleeRep.Media.ICE.RelayProtocol
		}
		return res
	})
}

// negotiateDirect runs offer and answer between the two legs; a failure
// is recorded on the leg it belongs to.
func negotiateDirect(ctx context.Context, out, in *Leg) error {
	sess := [2]media.Leg{}
	for i, l := range []*Leg{out, in} {
		if l.e.cfg.Kind != KindWebRTC {
			err := fmt.Errorf("%w: direct calls are between webrtc endpoints, %s is %s", ErrConfig, l.e.User(), l.e.cfg.Kind)
			l.fail(err, reports.CauseSignaling)
			return err
		}
		s, err := l.e.newSession(ctx)
		if err != nil {
			l.fail(err, sessionCause(err))
			return err
		}
		l.setSession(s)
		sess[i] = s
	}
	offer, err := sess[0].Offer(ctx, out.e.offerCodecs())
	if err != nil {
		out.fail(err, reports.CauseICE)
		return err
	}
	answer, codec, err := sess[1].Answer(ctx, offer, in.e.cfg.Codecs)
	if err != nil {
		in.fail(err, reports.CauseSignaling)
		return err
	}
	in.negotiated(answer, offer, codec)
	in.prepareMedia(codec)
	got, err := sess[0].SetAnswer(answer)
	if err != nil {
		out.fail(err, reports.CauseSignaling)
		return err
	}
	out.negotiated(offer, answer, got)
	out.prepareMedia(got)
	return nil
}

// codecOf is the leg's negotiated codec.
func (l *Leg) codecOf() media.Codec {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.codec
}
