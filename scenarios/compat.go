package scenarios

import (
	"fmt"

	"github.com/gauntlet-rtc/gauntlet/agents/nat"
)

// Check tells whether a scenario can run against this target: every
// population has a users entry and the SIP transport its kind needs (a
// rooms population: the target's rooms service), and no two populations
// would log in as the same users. Both must be valid
// already. Errors point at the scenario or the target file, whichever has
// to change, and come back together as *Errors.
func (t *Target) Check(s *Scenario) error {
	sl := &errorList{src: orEmpty(s.src)}
	tl := &errorList{src: orEmpty(t.src)}
	tfile := t.File()
	if tfile == "" {
		tfile = fmt.Sprintf("%q", t.Name)
	}
	type taken struct {
		pop        Population
		key        string
		start, end int // user numbers [start, end)
		pattern    string
	}
	var uses []taken
	for i, p := range s.Populations {
		path := indexPath("populations", i)
		if behindNAT(p.NAT) && !t.Loopback() {
			sl.add(joinPath(path, "nat"), ErrConflict, "emulated NATs need the target on this machine (loopback); target %s is not: put the agents behind a real NAT instead", tfile)
		}
		if p.Rooms() {
			t.checkRooms(sl, path, p, tfile)
			continue // no SIP: no sip.ws, no users; TURN credentials come from the rooms service
		}
		if p.ICEPolicy == ICEPolicyRelay && t.TURN == nil {
			sl.add(joinPath(path, "ice_policy"), ErrConflict, "relay-only agents need TURN servers, and target %s has no turn section", tfile)
		}
		if p.NAT == "tcp-one-port" && !p.Direct() {
			sl.add(joinPath(path, "nat"), ErrConflict, "behind a tcp-one-port firewall only the TURN TLS port is open: SIP over WebSocket cannot reach the target; use signaling: direct, or udp-blocked")
		}
		if p.Direct() {
			continue // no SIP: no sip.ws, no users needed (TURN credentials are minted per agent)
		}
		switch {
		case p.Kind == KindWebRTC && t.SIP.WS == "":
			sl.add(joinPath(path, "kind"), ErrConflict, "webrtc populations need sip.ws, which target %s does not give", tfile)
		case p.Kind == KindSIP && p.Transport == "tcp" && t.SIP.TCP == "":
			sl.add(joinPath(path, "transport"), ErrConflict, "sip over tcp needs sip.tcp, which target %s does not give", tfile)
		case p.Kind == KindSIP && p.Transport == "tls" && t.SIP.TLS == "":
			sl.add(joinPath(path, "transport"), ErrConflict, "sip over tls needs sip.tls, which target %s does not give", tfile)
		case p.Kind == KindSIP && (p.Transport == "" || p.Transport == "udp") && t.SIP.UDP == "":
			sl.add(joinPath(path, "kind"), ErrConflict, "sip populations need sip.udp, which target %s does not give", tfile)
		}
		u, key, ok := t.userEntry(p.Name, p.Kind)
		if !ok {
			sl.add(path, ErrNoUsers, "target %s has no users entry for population %q: add users.%s or users.%s", tfile, p.Name, p.Name, p.Kind)
			continue
		}
		uses = append(uses, taken{pop: p, key: key, start: u.Start, end: u.Start + p.Count, pattern: u.Pattern})
	}
	for j, b := range uses {
		for _, a := range uses[:j] {
			switch {
			case a.key == b.key:
				sl.add(indexPath("populations", popIndex(s, b.pop.Name)), ErrConflict,
					"population %q takes users.%s of target %s, as %q does: both would log in as the same users; give each its own entry", b.pop.Name, b.key, tfile, a.pop.Name)
			case a.pattern == b.pattern && a.start < b.end && b.start < a.end:
				tl.add(joinPath(joinPath("users", b.key), "start"), ErrConflict,
					"users %d..%d of %q (population %q) overlap users.%s's %d..%d (population %q)",
					b.start, b.end-1, b.pattern, b.pop.Name, a.key, a.start, a.end-1, a.pop.Name)
			}
		}
	}
	var list []*FieldError
	if err, ok := sl.err().(*Errors); ok {
		list = append(list, err.List...)
	}
	if err, ok := tl.err().(*Errors); ok {
		list = append(list, err.List...)
	}
	if len(list) == 0 {
		return nil
	}
	return &Errors{List: list}
}

func popIndex(s *Scenario, name string) int {
	for i, p := range s.Populations {
		if p.Name == name {
			return i
		}
	}
	return -1
}

func orEmpty(src *source) *source {
	if src == nil {
		return &source{}
	}
	return src
}

// checkRooms tells whether rooms population p can reach the target's
// rooms service.
func (t *Target) checkRooms(sl *errorList, path string, p Population, tfile string) {
	if t.Rooms == nil {
		sl.add(joinPath(path, "signaling"), ErrConflict, "room participants need a rooms service, and target %s has no rooms section (rooms: {url: ...})", tfile)
	}
	if p.NAT == nat.TCPOnePort {
		sl.add(joinPath(path, "nat"), ErrConflict, "behind a tcp-one-port firewall only the TURN TLS port is open: the rooms service cannot be reached; use udp-blocked")
	}
}
