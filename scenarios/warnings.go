package scenarios

import "github.com/gauntlet-rtc/gauntlet/agents/nat"

// Warnings are things in a valid scenario that will not do what they seem
// to, phrased like errors (file:line: field: message). The runner should
// show them and put them in the summary's warnings.
//
// Today: a concurrency the populations cannot reach. Every call needs its
// own caller and callee (a user is in one call at a time), so at most
// min(callers, callees, users/2) calls can be up at once; a room of N
// needs N users of its population, so at most count/N of its rooms.
// Asking for more runs at that limit, which is a clamp the user should
// hear about.
func (s *Scenario) Warnings() []string {
	var out []string
	callers, callees, all := map[string]int{}, map[string]int{}, map[string]int{}
	roomSize := map[string]int{} // smallest room of each rooms population
	for _, f := range s.Flows {
		from, okFrom := s.Population(f.From)
		to, okTo := s.Population(f.To)
		switch {
		case !okFrom || !okTo:
			continue
		case f.IsRoom():
			if n, ok := roomSize[from.Name]; !ok || f.RoomSize < n {
				roomSize[from.Name] = f.RoomSize
			}
			continue
		}
		callers[from.Name], callees[to.Name] = from.Count, to.Count
		all[from.Name], all[to.Name] = from.Count, to.Count
	}
	sum := func(m map[string]int) int {
		n := 0
		for _, c := range m {
			n += c
		}
		return n
	}
	limit := 0
	if len(all) > 0 {
		limit = min(sum(callers), sum(callees), sum(all)/2)
	}
	for name, size := range roomSize {
		p, _ := s.Population(name)
		limit += p.Count / size
	}
	if want := min(s.Load.Concurrency, s.Load.Calls); limit > 0 && want > limit {
		l := &errorList{src: orEmpty(s.src)}
		l.add("load.concurrency", nil, "%d %s at once need more users than the populations have: they allow at most %d at once, so the run will hold %d", s.Load.Concurrency, s.Units(), limit, limit)
		out = append(out, l.list[0].Error())
	}
	return append(out, s.streamImpairmentWarnings()...)
}

// streamImpairmentWarnings names the populations whose network section
// cannot reach their media: behind udp-blocked or tcp-one-port, media goes
// to the relay over TURN on TCP or TLS, a byte stream the packet
// impairment layer does not see (TCP would turn loss into retransmission
// delay anyway), so their calls measure an unimpaired path.
func (s *Scenario) streamImpairmentWarnings() []string {
	var out []string
	for i, p := range s.Populations {
		if p.Network == nil || (p.NAT != nat.UDPBlocked && p.NAT != nat.TCPOnePort) {
			continue
		}
		l := &errorList{src: orEmpty(s.src)}
		l.add(joinPath(indexPath("populations", i), "network"), nil,
			"behind %s this population's media reaches the relay over TURN on TCP or TLS, which the impairment layer does not see: its calls are measured unimpaired", p.NAT)
		out = append(out, l.list[0].Error())
	}
	return out
}
