package scenarios

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/reports"
)

var errUserDown = errors.New("virtual user is not registered")

// call places one planned call and returns its record. The caller and
// callee are leased for the call's whole life, so a callee's next INVITE
// is always this call's.
func (r *runner) call(ctx context.Context, pc PlannedCall) reports.Result {
	caller := r.pops.byName[pc.Caller.Population][pc.Caller.Index]
	callee := r.pops.byName[pc.Callee.Population][pc.Callee.Index]
	start := time.Now()
	if err := caller.acquire(ctx); err != nil {
		return notPlaced(pc, start, reports.CauseCanceled, err)
	}
	defer caller.release()
	if err := callee.acquire(ctx); err != nil {
		return notPlaced(pc, start, reports.CauseCanceled, err)
	}
	defer callee.release()
	switch {
	case caller.ep == nil:
		return notPlaced(pc, start, reports.CauseRegister, fmt.Errorf("caller %s: %w: %v", pc.Caller, errUserDown, caller.err))
	case callee.ep == nil:
		return notPlaced(pc, start, reports.CauseRegister, fmt.Errorf("callee %s: %w: %v", pc.Callee, errUserDown, callee.err))
	}

	t := r.cfg.Scenario.Timeouts
	spec := endpoint.CallSpec{
		ID: pc.ID, Hold: pc.Hold, CalleeHangsUp: pc.Hangup == HangupCallee,
		Setup: t.Setup, Teardown: t.Teardown,
		OnMedia: func(a, b *endpoint.Leg) { r.live.add(pc.ID, a, b) },
		Actions: endpointActions(pc.Actions),
	}
	defer r.live.remove(pc.ID)
	from, _ := r.cfg.Scenario.Population(pc.Caller.Population)
	to, _ := r.cfg.Scenario.Population(pc.Callee.Population)
	var res reports.Result
	if from.Direct() {
		res = endpoint.PlaceDirectCall(ctx, caller.ep, callee.ep, spec)
	} else {
		res = endpoint.PlaceCall(ctx, caller.ep, callee.ep, spec)
	}
	res.Population = pc.Caller.Population
	if want, ok := r.expectation(from, to); ok {
		res.ICE.NAT, res.ICE.PeerNAT, res.ICE.Expected = want.NAT, want.PeerNAT, want.Expected
	}
	return res
}

// notPlaced is the record of a call that never started.
func notPlaced(pc PlannedCall, start time.Time, cause string, err error) reports.Result {
	return reports.Result{
		Kind: reports.KindCall, ID: pc.ID, Population: pc.Caller.Population,
		From: pc.Caller.String(), To: pc.Callee.String(),
		Start: start, End: time.Now(), Outcome: reports.OutcomeFailed, Cause: cause, Error: err.Error(),
	}
}
