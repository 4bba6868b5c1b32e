package attack

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/agents/peer"
	"github.com/pion/dtls/v3"
)

// Where in a leg's stream srtp-replay injects, by packet counter from the
// first packet sent once its injector is armed (the mark every payload
// carries counts the packets; the browser's first packet is 0). At 50
// packets a second the injections and the tail last about 3.5 s.
const (
	srtpDupAt  = 10  // sent twice in a row
	srtpOldOf  = 20  // kept, and sent again right after srtpOldAt
	srtpOldAt  = 120 // 100 indices after srtpOldOf
	srtpFlipAt = 130 // withheld; a copy with one bit of its tag flipped goes instead
	srtpCutAt  = 140 // withheld; a copy with its tag cut goes instead
	srtpTail   = 25  // packets after the last injection that must reach the far side
	srtpCut    = 4   // bytes cut off the end of the tag

	srtpReplayTime = 45 * time.Second
	// srtpFlowWait bounds the wait, once the injections are done, for the
	// tail of each stream to come out on the far side.
	srtpFlowWait = 10 * time.Second
	// srtpMinDelivered is the share of the ordinary packets the far side
	// must get for the verdict to mean anything.
	srtpMinDelivered = 0.8
)

// Names of the sides srtp-replay attacks, as its evidence gives them.
const (
	srtpBrowserSide = "browser->phone (DTLS-SRTP)"
	srtpPhoneSide   = "phone->browser (SDES)"
)

// SRTPReplay calls the phone from a browser through the target and, on the
// browser's SRTP leg, injects a duplicate of a packet just sent, a packet
// 100 indices behind the stream, a packet with one tag bit flipped and one
// with its tag cut (the last two withheld in their genuine form, so their
// index is fresh); none may come out at the phone. When the phone's leg
// negotiated SDES-SRTP, the target's trunk side is an SRTP endpoint too,
// and the same four go in on the phone's leg; none may come out at the
// browser. Every marked packet that reaches either side is counted: plain
// RTP as it is, SRTP through a tap with that side's keys and no replay
// window (see srtptap.go).
func SRTPReplay(ctx context.Context, env *Env) Outcome {
	ctx, cancel := context.WithTimeout(ctx, srtpReplayTime)
	defer cancel()
	phoneInj := newSRTPInjector(false) // armed once the call is up, if its leg is SDES
	rig, err := newMediaRig(ctx, env, "srtp-replay", withPhoneInjector(phoneInj))
	if err != nil {
		return Inconclusivef("%v", err)
	}
	out := srtpReplay(ctx, rig, phoneInj)
	if err := rig.Close(); err != nil {
		out.Warnings = append(out.Warnings, err.Error())
	}
	out.Capture = rig.capture.Path()
	return out
}

func srtpReplay(ctx context.Context, rig *mediaRig, phoneInj *srtpInjector) Outcome {
	browserInj := newSRTPInjector(true)
	browserMarks := newMarkTally()
	var browserTap *dtlsTap
	if rig.phoneTap != nil { // the phone speaks SDES: its side is counted at the browser
		browserTap = newDTLSTap(browserMarks)
	}
	browser, err := rig.browser(ctx, nil, func(c *endpoint.Config) {
		c.PeerConfig = func(pc *peer.Config) {
			pc.WrapConn = func(conn net.Conn) net.Conn {
				return &injectConn{Conn: conn, inj: browserInj, tap: browserTap}
			}
			if browserTap != nil {
				pc.DTLSOptions = append(pc.DTLSOptions, dtls.WithKeyLogWriter(browserTap))
			}
		}
	})
	if err != nil {
		return Inconclusivef("%v", err)
	}
	defer func() { _ = browser.Close() }()
	call, err := rig.call(ctx, browser, false)
	if err != nil {
		return Inconclusivef("%v", err)
	}
	defer call.end(ctx)
	if err := call.browser.Err(); err != nil {
		return Inconclusivef("the call through the target did not connect: %v", err)
	}
	if call.phone == nil {
		return Inconclusivef("the call through the target never reached the phone")
	}
	rep, phoneRep := call.browser.Report(), call.phone.Report()
	sides := []*srtpSide{{
		name: srtpBrowserSide, to: "the phone", from: "the browser's",
		inj: browserInj, marks: rig.marks, tag: rep.SendTag,
	}}
	if rig.phoneTap != nil {
		sides[0].reader = rig.phoneTap.counts
	}
	evidence := []string{fmt.Sprintf("call connected: SRTP profile %s toward the browser, as negotiated on the wire", rep.Media.Security.SRTPProfile)}
	switch trunk := phoneRep.Media.Security.TrunkSRTP; {
	case strings.HasPrefix(trunk, "SDES ") && browserTap != nil:
		phoneInj.arm()
		sides = append(sides, &srtpSide{
			name: srtpPhoneSide, to: "the browser", from: "the phone's",
			inj: phoneInj, marks: browserMarks, tag: phoneRep.SendTag, reader: browserTap.counts,
		})
		evidence = append(evidence, fmt.Sprintf("phone leg: %s, as negotiated in the SDP: attacked too", trunk))
	case trunk == "none":
		evidence = append(evidence, "phone leg is plain RTP: not attacked")
	default:
		evidence = append(evidence, fmt.Sprintf("phone leg negotiated %q: not attacked", trunk))
	}
	for _, s := range sides {
		select {
		case <-s.inj.done:
		case <-call.browser.Done():
			return Inconclusivef("the call ended before the injections were done (%s)", s.summary())
		case <-ctx.Done():
			return Inconclusivef("%s stream did not reach the last injection in time (%s)", s.from, s.summary())
		}
	}
	wctx, cancel := context.WithTimeout(ctx, srtpFlowWait)
	for _, s := range sides {
		s.flowed = s.marks.waitFor(wctx, call.browser.Done(), s.tag, s.last())
	}
	cancel()
	call.end(ctx)
	return srtpVerdict(evidence, sides)
}

// srtpVerdict judges every side: VULNERABLE when anything injected came
// out on any side, resisted only when every side attacked was judged.
func srtpVerdict(evidence []string, sides []*srtpSide) Outcome {
	o := Outcome{Evidence: evidence}
	var forwarded, undecided []string
	for _, s := range sides {
		j := s.judge()
		o.Evidence = append(o.Evidence, j.evidence...)
		if j.severity != "" {
			o.Severity = worseSeverity(o.Severity, j.severity)
			forwarded = append(forwarded, fmt.Sprintf("%s (%s)", s.name, strings.Join(j.forwarded, ", ")))
		}
		if j.undecided != "" {
			undecided = append(undecided, s.name+": "+j.undecided)
		}
	}
	switch {
	case o.Severity != "":
		o.Verdict = Vulnerable
		o.Reason = "the target forwarded injected SRTP packets: " + strings.Join(forwarded, "; ")
		o.Remediation = "authenticate every SRTP packet and keep a replay window of at least 64 indices (RFC 3711 3.3.2) on every SRTP leg, WebRTC and trunk alike; discard replayed, too-old and badly tagged packets before relaying them"
	case len(undecided) > 0:
		o.Verdict = Inconclusive
		o.Reason = strings.Join(undecided, "; ")
	case len(sides) > 1:
		o.Verdict = Resisted
		o.Reason = "none of the injected SRTP packets came out on either side while ordinary media flowed both ways"
	default:
		o.Verdict = Resisted
		o.Reason = "none of the injected SRTP packets reached the phone while ordinary media flowed"
	}
	return o
}

// srtpSide is one direction srtp-replay attacks: injected into the target
// on one leg, counted as it comes out on the other.
type srtpSide struct {
	name   string // srtpBrowserSide or srtpPhoneSide
	to     string // who counts: "the phone"
	from   string // whose stream: "the browser's"
	inj    *srtpInjector
	marks  *markTally // what reached the far side
	tag    uint64     // the sending leg's payload-mark tag
	reader func() tapCount
	flowed bool // the stream's last packet came out on the far side
}

func (s *srtpSide) summary() string { return s.name + ": " + s.inj.summary() }

// last is the counter of the stream's last packet that must come out.
func (s *srtpSide) last() uint32 { return s.inj.at(srtpCutAt + srtpTail) }

// sideJudgement is what one side showed.
type sideJudgement struct {
	evidence  []string
	severity  string   // the worst of what came through, "" for nothing
	forwarded []string // what came through
	undecided string   // why the side cannot be judged, "" when it can
}

func (s *srtpSide) judge() sideJudgement {
	var j sideJudgement
	line := func(format string, args ...any) {
		j.evidence = append(j.evidence, s.name+": "+fmt.Sprintf(format, args...))
	}
	first, last := s.inj.at(0), s.last()
	flip, cut := s.inj.at(srtpFlipAt), s.inj.at(srtpCutAt)
	sent := int(last-first) + 1 - 2 // the flipped and cut ones were withheld
	got := s.marks.distinct(s.tag, first, last) - min(1, s.marks.count(s.tag, flip)) - min(1, s.marks.count(s.tag, cut))
	read := ""
	if s.reader != nil {
		read = fmt.Sprintf(" (its SRTP tap: %s)", s.reader())
	}
	line("ordinary media: %s got %d of the %d packets %d-%d sent normally%s", s.to, got, sent, first, last, read)
	line("injected: %s", s.inj.summary())
	switch {
	case !s.flowed:
		j.undecided = fmt.Sprintf("ordinary media did not flow: packet %d of %s stream never reached %s", last, s.from, s.to)
		return j
	case float64(got) < srtpMinDelivered*float64(sent):
		j.undecided = fmt.Sprintf("ordinary media did not flow: %s got %d of %d packets", s.to, got, sent)
		return j
	}
	var unknowns []string
	check := func(what string, counter uint32, allowed int, severity string) {
		n := s.marks.count(s.tag, counter)
		switch {
		case n > allowed:
			j.severity = worseSeverity(j.severity, severity)
			j.forwarded = append(j.forwarded, what)
			line("%s: FORWARDED: packet %d reached %s %d time(s), %d more than sent genuinely", what, counter, s.to, n, n-allowed)
		case allowed == 1 && n == 0:
			unknowns = append(unknowns, what)
			line("%s: packet %d never reached %s at all, so a replay of it cannot be told apart", what, counter, s.to)
		default:
			line("%s: dropped: packet %d reached %s %d time(s)", what, counter, s.to, n)
		}
	}
	check("duplicate sent right after the original", s.inj.at(srtpDupAt), 1, Medium)
	check(fmt.Sprintf("packet sent again %d indices later", srtpOldAt-srtpOldOf), s.inj.at(srtpOldOf), 1, Medium)
	check("flipped auth tag bit (genuine packet withheld)", flip, 0, High)
	check(fmt.Sprintf("tag cut by %d bytes (genuine packet withheld)", srtpCut), cut, 0, High)
	if len(unknowns) > 0 {
		j.undecided = "the genuine packets some injections copied never reached " + s.to + ": " + strings.Join(unknowns, "; ")
	}
	return j
}
