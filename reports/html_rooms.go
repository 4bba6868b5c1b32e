package reports

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// htmlRooms is report.html's Rooms section, present when the run had room
// records.
type htmlRooms struct {
	Tiles    []htmlTile
	Dists    []htmlDist
	ByKind   string // "host-candidate 2 · raddr 1", most frequent first
	Leaks    []LeakExample
	Kept     int // leaks listed, of R.Leaks
	Failures []FailureGroup
	R        *RoomsSummary
}

func newHTMLRooms(r *RoomsSummary, held map[string]bool) *htmlRooms {
	if r == nil {
		return nil
	}
	v := &htmlRooms{R: r, Leaks: r.LeakExamples, Kept: len(r.LeakExamples), Failures: r.Failures}
	tile := func(label, value, sub string, metrics ...string) {
		v.Tiles = append(v.Tiles, htmlTile{Label: label, Value: value, Sub: sub, Class: tileClass(held, metrics)})
	}
	tile("Rooms", strconv.Itoa(r.Count), fmt.Sprintf("%d complete", r.Complete), "rooms.count", "rooms.complete")
	tile("Participants joined", fmt.Sprintf("%d / %d", r.Joined, r.Participants),
		fmt.Sprintf("%d ok · %d failed · %d canceled", r.OK, r.Failed, r.Canceled),
		"rooms.participants", "rooms.joined", "rooms.ok", "rooms.failed", "rooms.canceled")
	tile("Room ICE success", percent(r.ICE.SuccessRate),
		fmt.Sprintf("%d of %d that exchanged SDP", r.ICE.Connected, r.ICE.SDPExchanged), "rooms.ice.success_rate")
	relaySub := fmt.Sprintf("%d of %d ICE-connected", r.ICE.Relay, r.ICE.Connected)
	for _, row := range countTable("", r.ICE.RelayProtocol).Rows {
		relaySub += " · " + row.Key + " " + row.Value
	}
	tile("Room relay ratio", percent(r.ICE.RelayRatio), relaySub, "rooms.ice.relay_ratio")
	tile("Join p95", millis(r.JoinMS.P95), "p50 "+millis(r.JoinMS.P50), "rooms.join_ms.p50", "rooms.join_ms.p95")
	tile("First audio p95", millis(r.FirstAudioMS.P95), "slowest leg, to audio · p50 "+millis(r.FirstAudioMS.P50),
		"rooms.first_audio_ms.p50", "rooms.first_audio_ms.p95")
	tile("Room MOS p50", fixed(r.MOS.P50, 2), fmt.Sprintf("p5 %s · over %d participants", fixed(r.MOS.P5, 2), r.MOS.N),
		"rooms.mos.p50", "rooms.mos.p5")
	tile("Leaks", strconv.Itoa(r.Leaks), fmt.Sprintf("%d participants · %d messages inspected", r.LeakyParticipants, r.Inspected),
		"rooms.leaks")
	// A leak breaks the relay-only promise: shown as bad even where no
	// threshold asked about it.
	if last := &v.Tiles[len(v.Tiles)-1]; last.Class == "" && r.Leaks > 0 {
		last.Class = "bad"
	}

	m := r.Media
	v.Dists = []htmlDist{
		msDist("Join (request to joined)", r.JoinMS),
		msDist("First audio (slowest leg, from its start to audio)", r.FirstAudioMS),
		{Name: "Loss (%), per direction", N: m.LossPct.N, P50: fixed(m.LossPct.P50, 2), P95: fixed(m.LossPct.P95, 2)},
		msDist("Jitter, per direction", m.JitterMS),
		msDist("One-way delay, per direction", m.DelayMS),
	}
	var kinds []string
	for _, row := range countTable("", r.LeaksByKind).Rows {
		kinds = append(kinds, row.Key+" "+row.Value)
	}
	v.ByKind = strings.Join(kinds, " · ")
	return v
}

// htmlPairing is one row of the ICE section's NAT pairing table.
type htmlPairing struct {
	Key, Expected string
	Outcomes      []htmlOutcome // direct, relay, fail
	Mismatch      bool
	Class         string
}

var pairingOutcomes = []string{ICEDirect, ICERelay, ICEFail}

// htmlOutcome is one outcome's count in a pairing row; Miss marks a count
// of calls that ended otherwise than expected.
type htmlOutcome struct {
	N    int
	Miss bool
}

// newHTMLPairings lists the NAT pairings in key order. A pairing whose
// calls did not all end as expected is a mismatch (an outcome other than
// direct, relay or fail, read from an edited summary, counts as one).
func newHTMLPairings(by map[string]*PairingStat) []htmlPairing {
	var out []htmlPairing
	for _, k := range slices.Sorted(maps.Keys(by)) {
		ps := by[k]
		if ps == nil {
			continue
		}
		p := htmlPairing{Key: k, Expected: ps.Expected, Class: "ok"}
		for o, n := range ps.Outcomes {
			p.Mismatch = p.Mismatch || n > 0 && o != ps.Expected
		}
		for _, o := range pairingOutcomes {
			n := ps.Outcomes[o]
			p.Outcomes = append(p.Outcomes, htmlOutcome{N: n, Miss: n > 0 && o != ps.Expected})
		}
		if p.Mismatch {
			p.Class = "bad"
		}
		out = append(out, p)
	}
	return out
}
