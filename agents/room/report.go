package room

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/peer"
	"github.com/gauntlet-rtc/gauntlet/reports"
)

// MaxGap is the longest silence in a direction a participant survives as
// connected (as for calls).
const MaxGap = 2 * time.Second

// Report is what one participant saw.
type Report struct {
	Room      string
	Session   string // the participant's ID in the room
	Policy    string // ICE candidate policy: relay or all
	Start     time.Time
	Joined    time.Time // the service's joined message arrived
	End       time.Time
	Err       error
	Cause     string
	Peers     []PeerReport // one per other participant, by the order they appeared
	Inspected int          // signaling messages received and inspected
	Leaks     []reports.Leak
	Service   []string // errors the service reported on the signaling connection
}

// Report returns what the participant saw so far (after Leave: what it
// saw when it left).
func (p *Participant) Report() Report {
	p.mu.Lock()
	if p.final != nil {
		r := *p.final
		p.mu.Unlock()
		return r
	}
	r := Report{
		Room: p.room, Session: p.session, Policy: p.Policy(), Start: p.start, Joined: p.joined,
		Err: p.err, Cause: p.cause, Inspected: p.inspected,
		Leaks: slices.Clone(p.leaks), Service: slices.Clone(p.service),
	}
	links := p.linksLocked()
	p.mu.Unlock()
	slices.SortFunc(links, func(a, b *link) int { return a.start.Compare(b.start) })
	for _, l := range links {
		pr := l.report()
		r.Peers = append(r.Peers, pr)
		if pr.End.After(r.End) {
			r.End = pr.End
		}
	}
	if r.End.IsZero() {
		r.End = time.Now()
	}
	return r
}

// Results builds one record per participant of a room from their reports
// (size is the number of participants the room was to have). The harness
// owns every end, so each direction toward a participant is measured by
// its receiver against what the sending participant sent (count and
// payload tag) when that participant's report is among reps.
func Results(size int, reps ...Report) []reports.Result {
	bySession := map[string]*Report{}
	for i := range reps {
		bySession[reps[i].Session] = &reps[i]
	}
	out := make([]reports.Result, 0, len(reps))
	for _, r := range reps {
		out = append(out, result(size, r, bySession))
	}
	return out
}

func result(size int, r Report, all map[string]*Report) reports.Result {
	res := reports.Result{
		Kind: reports.KindRoom, ID: r.Room + "/" + r.Session, From: r.Session,
		Start: r.Start, End: r.End, Outcome: reports.OutcomeOK,
	}
	room := &reports.Room{ID: r.Room, Participant: r.Session, Size: size, Inspected: r.Inspected, Leaks: r.Leaks}
	res.Room = room
	if !r.Joined.IsZero() {
		room.JoinMS = ms(r.Joined.Sub(r.Start))
		res.Phases.SignalingMS = room.JoinMS
	}
	res.ICE = reports.ICE{Policy: r.Policy, SDPExchanged: len(r.Peers) > 0, Connected: len(r.Peers) > 0, Relay: len(r.Peers) > 0}
	var firstAudio time.Duration // the slowest leg's time to audio
	heardAll := true
	var failure error
	failCause := ""
	for i, pr := range r.Peers {
		ice := pr.Media.ICE
		res.ICE.SDPExchanged = res.ICE.SDPExchanged && ice.SDPExchanged
		res.ICE.Connected = res.ICE.Connected && ice.Connected
		res.ICE.Relay = res.ICE.Relay && ice.Relay
		if i == 0 {
			res.ICE.LocalCandidate, res.ICE.RemoteCandidate = ice.LocalCandidate, ice.RemoteCandidate
			res.ICE.RelayProtocol = ice.RelayProtocol
			res.Security = pr.Media.Security
			if !pr.Codec.IsZero() {
				res.Codec = pr.Codec.RTPMap()
			}
		}
		res.Phases.ICEMS = max(res.Phases.ICEMS, pr.Media.ICEMS)
		res.Phases.DTLSMS = max(res.Phases.DTLSMS, pr.Media.DTLSMS)
		if pr.Err != nil && failure == nil {
			failure, failCause = fmt.Errorf("room: leg with %s: %w", pr.Peer, pr.Err), pr.Cause
		}
		far := all[pr.Peer]
		var sent int
		var tag uint64
		var farLeg *PeerReport
		if far != nil {
			for j := range far.Peers {
				if far.Peers[j].Peer == r.Session {
					farLeg = &far.Peers[j]
				}
			}
		}
		if farLeg != nil {
			sent, tag = farLeg.Sent, farLeg.SendTag
		}
		d := pr.Recv.Direction(pr.Peer+"->"+r.Session, sent, tag)
		if last := pr.Recv.LastArrival; !last.IsZero() && pr.End.After(last) {
			d.LongestGapMS = max(d.LongestGapMS, ms(pr.End.Sub(last)))
		}
		if farLeg != nil {
			d = media.WithRTCP(d, farLeg.Media.RTCP)
		}
		d.MOS = media.NetworkMOS(pr.Codec, d)
		res.Media = append(res.Media, d)
		if d.Audio {
			room.Peers++
		}
		if first := pr.Recv.FirstArrival; !first.IsZero() {
			// Time to audio on this leg counts from when it could first
			// start: this participant's join, or the newcomer's arrival
			// that set the leg up, so a spread of joins is not counted.
			firstAudio = max(firstAudio, first.Sub(later(pr.Start, r.Start)))
			if !pr.Connected.IsZero() {
				res.Phases.FirstMediaMS = max(res.Phases.FirstMediaMS, ms(max(first.Sub(pr.Connected), 0)))
			}
		} else {
			heardAll = false
		}
		if farLeg != nil && d.Audio != (farLeg.Recv.Matched > 0) {
			res.OneWayAudio = true
		}
	}
	if heardAll && len(r.Peers) > 0 {
		room.FirstAudioMS = ms(firstAudio)
		res.Phases.TotalMS = room.FirstAudioMS
	}
	res.NoAudio = len(r.Peers) > 0 && room.Peers == 0 && res.ICE.Connected
	switch {
	case r.Err != nil:
		return failed(res, r.Cause, r.Err)
	case failure != nil:
		return failed(res, failCause, failure)
	case len(r.Peers) < size-1:
		return failed(res, reports.CauseSignaling, fmt.Errorf("%w: legs with %d of %d others", ErrNoPeer, len(r.Peers), size-1))
	case res.NoAudio:
		return failed(res, reports.CauseMedia, fmt.Errorf("%w: none from any of %d", ErrNoAudio, len(r.Peers)))
	case room.Peers < len(r.Peers):
		return failed(res, reports.CauseMedia, fmt.Errorf("%w: audio from %d of %d", ErrNoAudio, room.Peers, len(r.Peers)))
	case res.OneWayAudio:
		return failed(res, reports.CauseMedia, fmt.Errorf("%w: one-way audio with a participant", ErrNoAudio))
	}
	for _, d := range res.Media {
		if d.LongestGapMS > ms(MaxGap) {
			return failed(res, reports.CauseMedia, fmt.Errorf("room: %s: audio stopped for %.0f ms (more than %s)", d.Name, d.LongestGapMS, MaxGap))
		}
	}
	return res
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

// causeOf maps an error to a record's cause.
func causeOf(err error, fallback string) string {
	var status *StatusError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.Canceled):
		return reports.CauseCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return reports.CauseTimeout
	case errors.Is(err, ErrUnreachable):
		return reports.CauseUnreachable
	case errors.As(err, &status):
		return reports.CauseSignaling
	case errors.Is(err, peer.ErrFingerprint), errors.Is(err, peer.ErrDTLS):
		return reports.CauseDTLS
	case errors.Is(err, peer.ErrICE):
		return reports.CauseICE
	}
	return fallback
}

// LeakKindsOf lists the distinct kinds among leaks, in LeakKinds order.
func LeakKindsOf(leaks []reports.Leak) []string {
	var out []string
	for _, k := range LeakKinds {
		if slices.ContainsFunc(leaks, func(l reports.Leak) bool { return l.Kind == k }) {
			out = append(out, k)
		}
	}
	return out
}

// DescribeLeak is one line of evidence for a leak.
func DescribeLeak(l reports.Leak) string {
	from := ""
	if l.From != "" {
		from = " from " + l.From
	}
	return fmt.Sprintf("%s in %s%s: %s", l.Kind, l.Where, from, strings.TrimSpace(l.Text))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// later is the later of two times.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
