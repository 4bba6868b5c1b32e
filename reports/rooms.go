package reports

import (
	"maps"
	"slices"
)

// MaxLeakExamples is how many leaks a summary keeps per leak kind, as
// examples with their room and participant.
const MaxLeakExamples = 3

// RoomsSummary is summary.json's "rooms": the figures of the room records
// (KindRoom, one per participant of a browser-to-browser room). It is nil,
// and the section absent, when a run had no room records.
//
// Room participants are counted here and only here: the top-level calls.*,
// ice.*, mos.*, setup_ms.*, media.* and failures stay over call records
// (as DESIGN.md defines them), so that the relay ratio of relay-only rooms
// never blends with that of calls. Thresholds on a rooms scenario use the
// rooms.* names: "relay ratio 1.0, ICE success >= 99.5%, MOS p50 >= 4.3"
// reads `rooms.ice.relay_ratio == 1`, `rooms.ice.success_rate >= 0.995`,
// `rooms.mos.p50 >= 4.3`. (Negotiated, a census of what was observed,
// counts room records too.)
//
// Counts are of participants unless named otherwise:
// Participants = OK + Failed + Canceled.
type RoomsSummary struct {
	Count int `json:"count"` // distinct room IDs
	// Complete counts the rooms whose participants all ended ok, with as
	// many records as the room's size.
	Complete     int `json:"complete"`
	Participants int `json:"participants"` // participant records
	// Joined counts the participants the service answered "joined" (their
	// join_ms is set), whatever happened after.
	Joined   int `json:"joined"`
	OK       int `json:"ok"`       // outcome ok: a leg with every other participant, audio from each
	Failed   int `json:"failed"`   // outcome failed, cause other than canceled
	Canceled int `json:"canceled"` // stopped by the run before the participant ended

	// JoinMS is join request to "joined", over the participants that
	// joined; FirstAudioMS is the slowest leg's time to audio (from when
	// the leg could start: the participant's join, or a later newcomer's
	// arrival), over those that heard every other participant.
	JoinMS       Dist `json:"join_ms"`
	FirstAudioMS Dist `json:"first_audio_ms"`
	// ICE is over participants: a participant's ICE is connected when all
	// its legs connected, relayed when all of them go through a relay.
	ICE RoomsICE `json:"ice"`
	// MOS is per participant the lowest MOS of the directions toward it,
	// over the participants that ended ok (as for calls).
	MOS MOSSummary `json:"mos"`
	// Media is over the directions toward each participant (every
	// direction of a room is in exactly one record), with the participants
	// that had one-way or no audio.
	Media MediaSummary `json:"media"`

	// Leaks counts the addresses (or candidates carrying one) that reached
	// a participant of a relay-only room: anything but a TURN relay's.
	Leaks             int            `json:"leaks"`
	LeakyParticipants int            `json:"leaky_participants"` // participants that received at least one
	LeaksByKind       map[string]int `json:"leaks_by_kind"`
	// LeakExamples keeps up to MaxLeakExamples leaks of each kind, by kind
	// in order of first appearance, then in arrival order.
	LeakExamples []LeakExample `json:"leak_examples"`
	// Inspected counts the signaling messages checked for leaks.
	Inspected int `json:"inspected"`

	// Failures groups the failed participants by cause, as for calls.
	Failures []FailureGroup `json:"failures"`
}

// RoomsICE is ICE over room participants: SuccessRate = Connected /
// SDPExchanged, RelayRatio = Relay / Connected. RelayProtocol counts how
// the relayed participants reached their relay (udp, tcp, tls), where the
// record says.
type RoomsICE struct {
	SuccessRate   *float64       `json:"success_rate"`
	RelayRatio    *float64       `json:"relay_ratio"`
	SDPExchanged  int            `json:"sdp_exchanged"`
	Connected     int            `json:"connected"`
	Relay         int            `json:"relay"`
	RelayProtocol map[string]int `json:"relay_protocol"`
	// Expected counts the participants whose record carries an expected
	// ICE outcome (relay-only populations behind an emulated NAT);
	// Unexpected, those that ended otherwise.
	Expected   int `json:"expected"`
	Unexpected int `json:"unexpected"`
}

// LeakExample is one leak with the room and participant it reached.
type LeakExample struct {
	Room        string `json:"room"`
	Participant string `json:"participant"`
	Leak
}

// roomsAgg aggregates room records for a Summarizer.
type roomsAgg struct {
	n                                   RoomsSummary // the counts; distributions are built from the samples
	rooms                               map[string]*roomTally
	order                               []string // room IDs in arrival order
	join, firstAudio, mos, loss, jitter samples
	delay                               samples
	failures                            []*FailureGroup
	examples                            map[string][]LeakExample
	kinds                               []string // leak kinds in order of first appearance
}

// roomTally is what one room's records said.
type roomTally struct {
	size, records, ok int
}

func newRoomsAgg() *roomsAgg {
	return &roomsAgg{rooms: map[string]*roomTally{}, examples: map[string][]LeakExample{}}
}

func (a *roomsAgg) add(r Result) {
	rm := r.Room
	if rm == nil {
		rm = &Room{}
	}
	t := a.rooms[rm.ID]
	if t == nil {
		t = &roomTally{}
		a.rooms[rm.ID] = t
		a.order = append(a.order, rm.ID)
	}
	t.records++
	t.size = max(t.size, rm.Size)

	a.n.Participants++
	switch {
	case r.Outcome == OutcomeOK:
		a.n.OK++
		t.ok++
	case r.Cause == CauseCanceled:
		a.n.Canceled++
	default:
		a.n.Failed++
		a.failures = addFailure(a.failures, r)
	}
	if rm.JoinMS > 0 {
		a.n.Joined++
		a.join.add(rm.JoinMS)
	}
	if rm.FirstAudioMS > 0 {
		a.firstAudio.add(rm.FirstAudioMS)
	}
	if r.ICE.Expected != "" && r.Cause != CauseCanceled {
		a.n.ICE.Expected++
		if !r.ICE.AsExpected() {
			a.n.ICE.Unexpected++
		}
	}
	if r.ICE.SDPExchanged {
		a.n.ICE.SDPExchanged++
		if r.ICE.Connected {
			a.n.ICE.Connected++
			if r.ICE.Relay {
				a.n.ICE.Relay++
				if p := r.ICE.RelayProtocol; p != "" {
					if a.n.ICE.RelayProtocol == nil {
						a.n.ICE.RelayProtocol = map[string]int{}
					}
					a.n.ICE.RelayProtocol[p]++
				}
			}
		}
	}
	if r.Outcome == OutcomeOK {
		if m, ok := callMOS(r.Media); ok {
			a.mos.add(m)
		}
	}
	for _, d := range r.Media {
		if d.Sent+d.Received+d.Lost > 0 {
			a.loss.add(d.LossPct)
		}
		if d.Received > 0 {
			a.jitter.add(d.JitterMS)
			a.delay.add(d.DelayMS)
		}
	}
	if r.OneWayAudio {
		a.n.Media.OneWayAudio++
	}
	if r.NoAudio {
		a.n.Media.NoAudio++
	}
	a.n.Inspected += rm.Inspected
	a.addLeaks(r, rm)
}

func (a *roomsAgg) addLeaks(r Result, rm *Room) {
	if len(rm.Leaks) == 0 {
		return
	}
	a.n.Leaks += len(rm.Leaks)
	a.n.LeakyParticipants++
	if a.n.LeaksByKind == nil {
		a.n.LeaksByKind = map[string]int{}
	}
	participant := rm.Participant
	if participant == "" {
		participant = r.From
	}
	for _, l := range rm.Leaks {
		kind := l.Kind
		if kind == "" {
			kind = "unknown"
		}
		a.n.LeaksByKind[kind]++
		if _, seen := a.examples[kind]; !seen {
			a.kinds = append(a.kinds, kind)
		}
		if len(a.examples[kind]) < MaxLeakExamples {
			l.Kind, l.Text, l.Where = kind, Redact(l.Text), Redact(l.Where)
			a.examples[kind] = append(a.examples[kind], LeakExample{Room: rm.ID, Participant: participant, Leak: l})
		}
	}
}

// summary returns the section; it shares nothing with a.
func (a *roomsAgg) summary() *RoomsSummary {
	s := a.n
	s.Count = len(a.rooms)
	for _, id := range a.order {
		t := a.rooms[id]
		if t.ok == t.records && t.records >= t.size {
			s.Complete++
		}
	}
	s.JoinMS, s.FirstAudioMS = a.join.dist(), a.firstAudio.dist()
	s.ICE = ratesOf(a.n.ICE)
	s.MOS = mosOf(a.mos)
	s.Media.LossPct, s.Media.JitterMS, s.Media.DelayMS = a.loss.dist(), a.jitter.dist(), a.delay.dist()
	s.LeaksByKind = maps.Clone(a.n.LeaksByKind)
	if s.LeaksByKind == nil {
		s.LeaksByKind = map[string]int{}
	}
	s.LeakExamples = []LeakExample{}
	for _, k := range a.kinds {
		s.LeakExamples = append(s.LeakExamples, a.examples[k]...)
	}
	s.Failures = copyFailures(a.failures)
	return &s
}

// ratesOf fills a RoomsICE's rates from its counts; the result shares
// nothing with i.
func ratesOf(i RoomsICE) RoomsICE {
	i.SuccessRate, i.RelayRatio = nil, nil
	i.RelayProtocol = maps.Clone(i.RelayProtocol)
	if i.RelayProtocol == nil {
		i.RelayProtocol = map[string]int{}
	}
	if i.SDPExchanged > 0 {
		i.SuccessRate = ptrTo(float64(i.Connected) / float64(i.SDPExchanged))
	}
	if i.Connected > 0 {
		i.RelayRatio = ptrTo(float64(i.Relay) / float64(i.Connected))
	}
	return i
}

// mosOf summarises per-attempt MOS values: median and low tail.
func mosOf(s samples) MOSSummary {
	m := MOSSummary{N: len(s)}
	if len(s) > 0 {
		sorted := slices.Sorted(slices.Values(s))
		m.P50 = ptrTo(nearestRank(sorted, 50))
		m.P5 = ptrTo(nearestRank(sorted, 5))
	}
	return m
}

// copyFailures returns the groups, most frequent cause first (ties keep
// arrival order), sharing nothing with gs.
func copyFailures(gs []*FailureGroup) []FailureGroup {
	out := make([]FailureGroup, 0, len(gs))
	for _, g := range gs {
		c := *g
		c.Examples = slices.Clone(g.Examples)
		out = append(out, c)
	}
	slices.SortStableFunc(out, func(a, b FailureGroup) int { return b.Count - a.Count })
	return out
}

// redacted returns a copy of s with its free text redacted.
func (s *RoomsSummary) redacted() *RoomsSummary {
	if s == nil {
		return nil
	}
	c := *s
	c.LeaksByKind = maps.Clone(s.LeaksByKind)
	c.LeakExamples = append([]LeakExample{}, s.LeakExamples...)
	for i := range c.LeakExamples {
		l := &c.LeakExamples[i]
		l.Room, l.Participant, l.From = Redact(l.Room), Redact(l.Participant), Redact(l.From)
		l.Kind, l.Where, l.Text = Redact(l.Kind), Redact(l.Where), Redact(l.Text)
	}
	c.Failures = redactFailures(s.Failures)
	return &c
}
