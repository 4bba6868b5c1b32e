package endpoint

import (
	"slices"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/reports"
)

// LegReport is what one leg of a call saw.
type LegReport struct {
	User      string
	Kind      string
	Caller    bool
	Peer      string
	Start     time.Time
	End       time.Time
	Err       error
	Cause     string
	SIPStatus int
	Signaling time.Duration // INVITE to 2xx at this leg
	Connected time.Time     // media path up
	Codec     media.Codec

	// Media is what the media leg negotiated (ICE and DTLS for WebRTC legs).
	Media media.LegReport

	Sent    int    // packets this leg sent
	SendTag uint64 // the tag in this leg's payload marks
	Recv    media.Stats
	// Silence is how long nothing had arrived at End, holds left out.
	Silence time.Duration
	// Reoffers are the far end's re-offers the leg answered, in order: a
	// hold or unhold the far end (or the target, passing on the other
	// party's) applied to this leg, or an ICE restart.
	Reoffers []Reoffer
}

// Report returns what the leg saw so far.
func (l *Leg) Report() LegReport {
	l.mu.Lock()
	r := LegReport{
		User: l.e.User(), Kind: l.e.cfg.Kind, Caller: l.caller, Peer: l.peer,
		Start: l.start, End: l.end, Err: l.err, Cause: l.cause, SIPStatus: l.status,
		Connected: l.connected, Codec: l.codec, Reoffers: slices.Clone(l.reoffers),
	}
	if l.dialog != nil {
		r.Signaling = l.dialog.Timing.Signaling()
	}
	sess, recv, sender := l.sess, l.recv, l.sender
	l.mu.Unlock()
	if r.End.IsZero() {
		r.End = time.Now()
	}
	if sess != nil {
		r.Media = sess.Report()
	}
	if recv != nil {
		r.Recv = recv.Stats()
		r.Silence = recv.SilenceAt(r.End)
	}
	if sender != nil {
		r.Sent = sender.Sent()
		r.SendTag = sender.Tag()
	}
	return r
}

// Direction names in records.
const (
	CallerToCallee = "caller->callee"
	CalleeToCaller = "callee->caller"
)

// Combine builds the record of one call from its two legs (callee may be
// nil when no leg reached the callee). The harness owns both ends, so each
// direction's figures come from its receiver and its sender together.
func Combine(id string, caller LegReport, callee *LegReport) reports.Result {
	r := reports.Result{
		Kind: reports.KindCall, ID: id, From: caller.User, To: caller.Peer,
		Start: caller.Start, End: caller.End, SIPStatus: caller.SIPStatus,
		Outcome: reports.OutcomeOK,
	}
	if callee != nil {
		r.To = callee.User
		if callee.End.After(r.End) {
			r.End = callee.End
		}
	}
	if !caller.Codec.IsZero() {
		r.Codec = caller.Codec.RTPMap()
	}
	webrtc := caller
	if caller.Kind != KindWebRTC && callee != nil && callee.Kind == KindWebRTC {
		webrtc = *callee
	}
	r.ICE, r.Security = webrtc.Media.ICE, webrtc.Media.Security
	r.Security.TrunkSRTP = phoneSRTP(caller, callee)
	r.Phases = reports.Phases{SignalingMS: ms(caller.Signaling), ICEMS: webrtc.Media.ICEMS, DTLSMS: webrtc.Media.DTLSMS}
	if first := caller.Recv.FirstArrival; !first.IsZero() {
		r.Phases.TotalMS = ms(first.Sub(caller.Start))
		if !caller.Connected.IsZero() {
			r.Phases.FirstMediaMS = ms(max(first.Sub(caller.Connected), 0))
		}
	}

	r.Reoffers = reoffers(caller, callee)

	switch {
	case caller.Err != nil:
		return failed(r, caller.Cause, caller.Err)
	case callee == nil:
		return failed(r, reports.CauseSignaling, errNoCallee)
	case callee.Err != nil:
		return failed(r, callee.Cause, callee.Err)
	}

	up := direction(CallerToCallee, *callee, caller)
	down := direction(CalleeToCaller, caller, *callee)
	r.Media = []reports.Direction{up, down}
	r.OneWayAudio = up.Audio != down.Audio
	r.NoAudio = !up.Audio && !down.Audio
	switch {
	case r.NoAudio:
		return failed(r, reports.CauseMedia, errNoAudio)
	case r.OneWayAudio:
		return failed(r, reports.CauseMedia, errOneWay(up, down))
	}
	for _, d := range r.Media {
		if d.LongestGapMS > MaxGap.Seconds()*1000 {
			return failed(r, reports.CauseMedia, errGap(d))
		}
	}
	return r
}

// MaxGap is the longest silence in a direction, mid-call or before
// hang-up, that a call survives as connected; longer is a media failure.
const MaxGap = 2 * time.Second

// direction is the media one way: what the receiving leg measured and
// what the sending leg sent. The longest gap includes the silence between
// the last packet and the receiving leg's end, so audio that stopped
// mid-call (a target that died) shows even when nothing came after it.
func direction(name string, rx, tx LegReport) reports.Direction {
	d := rx.Recv.Direction(name, tx.Sent, tx.SendTag)
	d.LongestGapMS = max(d.LongestGapMS, ms(rx.Silence))
	d = media.WithRTCP(d, tx.Media.RTCP)
	d.MOS = media.NetworkMOS(tx.Codec, d)
	return d
}

func failed(r reports.Result, cause string, err error) reports.Result {
	r.Outcome, r.Cause = reports.OutcomeFailed, cause
	if r.Cause == "" {
		r.Cause = reports.CauseSignaling
	}
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// reoffers lists the re-offers both legs answered, in the order they
// came, each timed from the media up of the leg that got it.
func reoffers(caller LegReport, callee *LegReport) []reports.Reoffer {
	type got struct {
		at  time.Time
		rec reports.Reoffer
	}
	var all []got
	add := func(to string, l LegReport) {
		for _, o := range l.Reoffers {
			rec := reports.Reoffer{To: to, Direction: o.Direction, Restart: o.Restart}
			if !l.Connected.IsZero() {
				rec.AtMS = ms(o.At.Sub(l.Connected))
			}
			all = append(all, got{o.At, rec})
		}
	}
	add("caller", caller)
	if callee != nil {
		add("callee", *callee)
	}
	slices.SortStableFunc(all, func(a, b got) int { return a.at.Compare(b.at) })
	out := make([]reports.Reoffer, 0, len(all))
	for _, g := range all {
		out = append(out, g.rec)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// phoneSRTP is what the call's phone-side leg negotiated, as its SDP said
// ("SDES <suite>" or "none"): the caller's when it is a phone, else the
// callee's; "" when neither is.
func phoneSRTP(caller LegReport, callee *LegReport) string {
	if caller.Kind == KindSIP {
		return caller.Media.Security.TrunkSRTP
	}
	if callee != nil && callee.Kind == KindSIP {
		return callee.Media.Security.TrunkSRTP
	}
	return ""
}
