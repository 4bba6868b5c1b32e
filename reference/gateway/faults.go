package gateway

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
)

// FaultHit is one call a fault hit: the ground truth of an injected
// breakage, for tests that check the harness finds it. It is a test hook:
// Gauntlet's verdicts never read it.
type FaultHit struct {
	Call      uint64 // the call's number in arrival order, from 0 (what the fault's Seed is hashed with)
	Fault     string // the fault's Name, e.g. FaultDropMedia
	Direction string // the media direction it breaks: DirCallerToCallee or DirCalleeToCaller
	Caller    string // the caller's user
	Callee    string // the callee's user
	// CallerCallID is the Call-ID of the caller's INVITE to the gateway;
	// CalleeCallID that of the gateway's INVITE the callee answered, empty
	// while (or when) no callee answered.
	CallerCallID string
	CalleeCallID string
}

// maxFaultHits bounds the hits a gateway keeps (the latest ones), so a
// long run with faults does not grow without end.
const maxFaultHits = 1 << 16

// Faulted returns the calls a fault hit so far (the latest maxFaultHits
// hits), in arrival order. A hit is recorded when the call is admitted,
// before it is set up, so a call that then fails is listed too. It is a
// test hook (see FaultHit).
func (g *Gateway) Faulted() []FaultHit { return g.faults.hitList() }

// faultPlan numbers calls as they arrive, says which faults hit each, and
// keeps the hits.
type faultPlan struct {
	faults []Fault
	next   atomic.Uint64

	mu   sync.Mutex
	hits []FaultHit
}

// forCall numbers the next call, whose caller's INVITE has Call-ID callID,
// returns the faults that hit it and records each hit.
func (p *faultPlan) forCall(callID, caller, callee string) (n uint64, faults []Fault) {
	if len(p.faults) == 0 {
		return 0, nil
	}
	n = p.next.Add(1) - 1
	for _, f := range p.faults {
		if f.hits(n) {
			faults = append(faults, f)
		}
	}
	if len(faults) == 0 {
		return n, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range faults {
		if len(p.hits) == maxFaultHits {
			p.hits = p.hits[1:]
		}
		p.hits = append(p.hits, FaultHit{Call: n, Fault: f.Name, Direction: f.Direction, Caller: caller, Callee: callee, CallerCallID: callID})
	}
	return n, faults
}

// answered records the Call-ID of the callee leg of call number n.
func (p *faultPlan) answered(n uint64, calleeCallID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.hits) - 1; i >= 0; i-- {
		if p.hits[i].Call == n {
			p.hits[i].CalleeCallID = calleeCallID
		}
	}
}

func (p *faultPlan) hitList() []FaultHit {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := slices.Clone(p.hits)
	slices.SortStableFunc(out, func(a, b FaultHit) int { return cmp.Compare(a.Call, b.Call) })
	return out
}
