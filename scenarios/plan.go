package scenarios

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Endpoint is one virtual user in a planned call.
type Endpoint struct {
	Population string
	Kind       Kind
	Index      int // 0-based index of the user within its population
}

func (e Endpoint) String() string { return fmt.Sprintf("%s[%d]", e.Population, e.Index) }

// PlannedCall is one unit of a plan, a call or a room: who calls whom
// (or who meets in the room), in which flow, and how long the call (or
// room) is held once connected.
type PlannedCall struct {
	Seq     int    // 0-based position in the plan
	ID      string // "call-000001", or "room-000001" for a room (1-based; wider past 999999)
	Flow    string
	Caller  Endpoint // a room's creator
	Callee  Endpoint // a room's second participant
	Hold    time.Duration
	Hangup  Hangup
	Actions []FlowAction
	// Participants are a room's, in the order they join (the first
	// creates it); nil for a call.
	Participants []Endpoint
	// JoinAt is when each participant joins, from the room's setup start
	// (JoinAt[0] is 0, the others in ascending order within the flow's
	// join_spread); nil when the flow has none: each joins as soon as the
	// one before is in.
	JoinAt []time.Duration
}

// IsRoom reports whether the unit is a room.
func (c PlannedCall) IsRoom() bool { return len(c.Participants) > 0 }

func (c PlannedCall) String() string {
	if c.IsRoom() {
		names := make([]string, len(c.Participants))
		for i, e := range c.Participants {
			names[i] = e.String()
		}
		joins := ""
		if c.JoinAt != nil {
			at := make([]string, len(c.JoinAt))
			for i, d := range c.JoinAt {
				at[i] = d.String()
			}
			joins = " join=" + strings.Join(at, ",")
		}
		return fmt.Sprintf("%s %s room of %d: %s hold=%s hangup=%s%s", c.ID, c.Flow, len(names), strings.Join(names, " + "), c.Hold, c.Hangup, joins)
	}
	return fmt.Sprintf("%s %s %s -> %s hold=%s hangup=%s", c.ID, c.Flow, c.Caller, c.Callee, c.Hold, c.Hangup)
}

// holdStep is the granularity of drawn hold times: readable plans, and far
// finer than any hold matters.
const holdStep = time.Millisecond

// seedStream is the PCG stream used for plans ("gauntlet"), so that the
// seed alone fixes the plan.
const seedStream = 0x6761756e746c6574

// joinStream is the PCG stream of rooms' join offsets ("joinsprd"): a
// stream of its own, so that giving a flow a join_spread leaves every
// hold time of the plan as it was.
const joinStream = 0x6a6f696e73707264

// Plan lays out every call of a valid scenario, deterministically: the same
// scenario and seed give the same plan.
//
//   - Flows take turns by smooth weighted round-robin, so each flow gets
//     exactly its share of the calls (rounded) spread evenly, seed or not.
//   - Users are picked round-robin per population (one cursor per
//     population, whichever side of the call it is on), so load spreads
//     over every user and a flow within one population never pairs a user
//     with itself. Keeping a user in one call at a time is the runner's job.
//   - Hold times are drawn uniformly in [Min, Max] in steps of 1ms, one
//     draw per call from a PCG generator seeded with seed.
//   - A room flow's unit takes its room_size users of the population in
//     turn from the same cursor, so a room never holds a user twice.
//   - With a join_spread, a room's participants after the first join at
//     offsets drawn uniformly in [0, join_spread] in steps of 1ms (one
//     draw each, from a second PCG stream of the same seed), sorted so
//     that they still join in order.
//
// Plan does not validate: flows with a weight below 1 or naming a missing
// population are left out, and a scenario with none left plans nothing.
func Plan(s *Scenario, seed int64) []PlannedCall {
	p := NewPlanner(s, seed)
	if p == nil || s.Load.Calls < 1 {
		return nil
	}
	calls := make([]PlannedCall, s.Load.Calls)
	for n := range calls {
		calls[n] = p.Next()
	}
	return calls
}

// Planner lays out calls one at a time, as Plan does, for runs whose length
// is set by time (load.duration, load.stages) rather than a call count.
type Planner struct {
	flows  []*flowState
	total  int
	rng    *rand.Rand
	joins  *rand.Rand // join offsets: a stream apart from the holds'
	cursor map[string]int
	n      int
}

type flowState struct {
	flow     Flow
	from, to Population
	current  int
}

// NewPlanner returns a planner for the scenario, or nil when no flow can
// place a call.
func NewPlanner(s *Scenario, seed int64) *Planner {
	p := &Planner{
		rng:    rand.New(rand.NewPCG(uint64(seed), seedStream)),
		joins:  rand.New(rand.NewPCG(uint64(seed), joinStream)),
		cursor: map[string]int{},
	}
	for _, f := range s.Flows {
		from, okFrom := s.Population(f.From)
		to, okTo := s.Population(f.To)
		if f.Weight < 1 || !okFrom || !okTo || from.Count < 1 || to.Count < 1 ||
			f.RoomSize != 0 && (f.RoomSize < MinRoomSize || f.RoomSize > from.Count) {
			continue
		}
		p.flows = append(p.flows, &flowState{flow: f, from: from, to: to})
		p.total += f.Weight
	}
	if len(p.flows) == 0 {
		return nil
	}
	return p
}

func (p *Planner) next(pop Population) Endpoint {
	i := p.cursor[pop.Name]
	p.cursor[pop.Name] = (i + 1) % pop.Count
	return Endpoint{Population: pop.Name, Kind: pop.Kind, Index: i}
}

// Next plans the next call.
func (p *Planner) Next() PlannedCall {
	// Smooth weighted round-robin (as nginx): raise each flow by its
	// weight, pick the highest, lower it by the total.
	var pick *flowState
	for _, fs := range p.flows {
		fs.current += fs.flow.Weight
		if pick == nil || fs.current > pick.current {
			pick = fs
		}
	}
	pick.current -= p.total
	if n := pick.flow.RoomSize; n > 0 {
		return p.nextRoom(pick, n)
	}
	caller := p.next(pick.from)
	callee := p.next(pick.to)
	if callee == caller {
		callee = p.next(pick.to)
	}
	c := PlannedCall{
		Seq:     p.n,
		ID:      fmt.Sprintf("call-%06d", p.n+1),
		Flow:    pick.flow.Name,
		Caller:  caller,
		Callee:  callee,
		Hold:    drawHold(pick.flow.Hold, p.rng.Uint64()),
		Hangup:  pick.flow.Hangup,
		Actions: pick.flow.Actions,
	}
	p.n++
	return c
}

// nextRoom plans a room of n users of the flow's population.
func (p *Planner) nextRoom(fs *flowState, n int) PlannedCall {
	parts := make([]Endpoint, n)
	for i := range parts {
		parts[i] = p.next(fs.from)
	}
	c := PlannedCall{
		Seq:          p.n,
		ID:           fmt.Sprintf("room-%06d", p.n+1),
		Flow:         fs.flow.Name,
		Caller:       parts[0],
		Callee:       parts[1],
		Hold:         drawHold(fs.flow.Hold, p.rng.Uint64()),
		Hangup:       fs.flow.Hangup,
		Participants: parts,
		JoinAt:       p.joinOffsets(fs.flow.JoinSpread, n),
	}
	p.n++
	return c
}

// joinOffsets draws when each of a room's n participants joins within
// spread: 0 for the creator, the others sorted; nil for no spread.
func (p *Planner) joinOffsets(spread time.Duration, n int) []time.Duration {
	if spread <= 0 {
		return nil
	}
	at := make([]time.Duration, n)
	for i := 1; i < n; i++ {
		at[i] = drawHold(Hold{Max: spread}, p.joins.Uint64())
	}
	slices.Sort(at[1:])
	return at
}

// drawHold maps a uniform 64-bit draw onto [h.Min, h.Max] in holdStep
// steps. The modulo bias is below steps/2^64: nil for any real range.
func drawHold(h Hold, u uint64) time.Duration {
	if h.Max <= h.Min {
		return h.Min
	}
	steps := uint64((h.Max-h.Min)/holdStep) + 1
	return h.Min + time.Duration(u%steps)*holdStep
}
