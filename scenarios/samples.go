package scenarios

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/room"
	"github.com/gauntlet-rtc/gauntlet/reports"
)

// SampleEvery is how often the runner reads the calls and rooms in
// progress for the run's quality time series (records of kind interval).
const SampleEvery = time.Second

// roomMember is a room participant as the sampler reads it (a
// *room.Participant): its session, and its legs with media up, each the
// receive direction from one other participant.
type roomMember interface {
	Session() string
	Sample(now time.Time) []room.LegSample
}

// liveCalls are the calls whose media is up and the rooms being set up
// or held, by call or room ID.
type liveCalls struct {
	mu    sync.Mutex
	calls map[string][2]*endpoint.Leg
	rooms map[string][]roomMember
}

func (lc *liveCalls) add(id string, caller, callee *endpoint.Leg) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.calls == nil {
		lc.calls = map[string][2]*endpoint.Leg{}
	}
	lc.calls[id] = [2]*endpoint.Leg{caller, callee}
}

func (lc *liveCalls) remove(id string) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	delete(lc.calls, id)
}

// addRoom puts a room's participants in the series: each is read from
// then on, its legs as they come up.
func (lc *liveCalls) addRoom(id string, members []roomMember) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.rooms == nil {
		lc.rooms = map[string][]roomMember{}
	}
	lc.rooms[id] = members
}

func (lc *liveCalls) removeRoom(id string) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	delete(lc.rooms, id)
}

func (lc *liveCalls) snapshot() (calls [][2]*endpoint.Leg, rooms [][]roomMember) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	calls = make([][2]*endpoint.Leg, 0, len(lc.calls))
	for _, legs := range lc.calls {
		calls = append(calls, legs)
	}
	rooms = make([][]roomMember, 0, len(lc.rooms))
	for _, members := range lc.rooms {
		rooms = append(rooms, members)
	}
	return calls, rooms
}

// sampleLoop reports an interval record every SampleEvery while calls or
// rooms are up, until ctx ends.
func (r *runner) sampleLoop(ctx context.Context) {
	t := time.NewTicker(SampleEvery)
	defer t.Stop()
	prev := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if res, ok := r.sample(prev, now); ok {
				r.report(res)
			}
			prev = now
		}
	}
}

// sample reads every live call's directions and every live room's legs
// over [start, end). Active counts two-way connections with media up: a
// call, or a pair of a room's participants with a leg between them that
// is up (a room of n has up to n(n-1)/2, a two-party room 1, as a call).
// Each direction is read once, by its receiver: a call's two legs, and
// each participant's leg with each other participant (its receive
// direction from that one). No record while nothing is up.
func (r *runner) sample(start, end time.Time) (reports.Result, bool) {
	calls, rooms := r.live.snapshot()
	var acc intervalSum
	acc.iv.Active = len(calls)
	for _, legs := range calls {
		for _, l := range legs {
			if s, ok := l.Sample(end); ok {
				acc.add(s.Interval, s.MOS)
			}
		}
	}
	for _, members := range rooms {
		pairs := map[[2]string]bool{}
		for _, m := range members {
			me := m.Session()
			for _, s := range m.Sample(end) {
				pairs[pairKey(me, s.Peer)] = true
				acc.add(s.Interval, s.MOS)
			}
		}
		acc.iv.Active += len(pairs)
	}
	if acc.iv.Active == 0 {
		return reports.Result{}, false
	}
	iv := acc.result()
	return reports.Result{
		Kind: reports.KindInterval, ID: fmt.Sprintf("interval-%d", end.Unix()),
		Start: start, End: end, Outcome: reports.OutcomeOK, Interval: &iv,
	}, true
}

// pairKey names the pair of participants a and b, whichever reads.
func pairKey(a, b string) [2]string {
	if b < a {
		a, b = b, a
	}
	return [2]string{a, b}
}

// intervalSum adds up directions' readings into an Interval: figures are
// means over the directions that received packets.
type intervalSum struct {
	iv     reports.Interval
	delayN int
}

func (a *intervalSum) add(s media.Interval, mos float64) {
	if s.Received == 0 {
		a.iv.Silent++
		return
	}
	iv := &a.iv
	iv.Directions++
	iv.LossPct += s.LossPct
	iv.EffectiveLossPct += s.EffectiveLossPct
	iv.JitterMS += s.JitterMS
	if s.DelayCount > 0 {
		iv.DelayMS += s.DelayMeanMS
		a.delayN++
	}
	iv.MOS += mos
	if mos > 0 && (iv.MOSMin == 0 || mos < iv.MOSMin) {
		iv.MOSMin = mos
	}
}

func (a *intervalSum) result() reports.Interval {
	iv := a.iv
	if n := float64(iv.Directions); n > 0 {
		iv.LossPct, iv.EffectiveLossPct, iv.JitterMS, iv.MOS = iv.LossPct/n, iv.EffectiveLossPct/n, iv.JitterMS/n, iv.MOS/n
	}
	if a.delayN > 0 {
		iv.DelayMS /= float64(a.delayN)
	}
	return iv
}
