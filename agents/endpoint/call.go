package endpoint

import (
	"context"
	"fmt"
	"time"

	"github.com/gauntlet-rtc/gauntlet/reports"
)

// CallSpec says how to run one call between two endpoints.
type CallSpec struct {
	ID            string
	Hold          time.Duration // from media up to hang-up
	CalleeHangsUp bool          // else the caller hangs up
	Setup         time.Duration // dial to media up (default 15 s)
	Teardown      time.Duration // BYE to the far side seeing it (default 5 s)
	// OnMedia, when set, is called once both legs carry media, before the
	// hold starts; the legs stay valid (their Sample included) until the
	// call's record is returned.
	OnMedia func(caller, callee *Leg)
	// Actions run during the hold, timed from media up.
	Actions []Action
}

// withDefaults fills the timeouts a spec leaves at zero.
func (s CallSpec) withDefaults() CallSpec {
	if s.Setup <= 0 {
		s.Setup = 15 * time.Second
	}
	if s.Teardown <= 0 {
		s.Teardown = 5 * time.Second
	}
	return s
}

// PlaceCall runs one whole call: callee waits for the INVITE, caller dials
// it by user name, the call is held, one side hangs up, and both legs are
// combined into the call's record. Neither endpoint may be in another call
// meanwhile: callee takes the next INVITE it receives as this call's.
// When ctx ends early the call is hung up at once and its record says what
// was measured until then.
func PlaceCall(ctx context.Context, caller, callee *Endpoint, spec CallSpec) reports.Result {
	spec = spec.withDefaults()
	setupCtx, cancelSetup := context.WithTimeout(ctx, spec.Setup)
	defer cancelSetup()
	accepted := make(chan *Leg, 1)
	go func() { accepted <- callee.Accept(setupCtx) }()

	out := caller.Dial(setupCtx, callee.User())
	if out.Err() != nil {
		cancelSetup() // the callee may never see an INVITE
	}
	in := <-accepted

	return holdAndRecord(ctx, spec, out, in, func(callerRep, calleeRep LegReport) reports.Result {
		if calleeRep.Err != nil && callerRep.Err != nil {
			return Combine(spec.ID, callerRep, nil)
		}
		return Combine(spec.ID, callerRep, &calleeRep)
	})
}

// holdAndRecord holds a call whose legs are up (or failed) for its hold
// time with its actions, closes both legs and returns its record, built
// by combine from the two legs' reports.
func holdAndRecord(ctx context.Context, spec CallSpec, out, in *Leg, combine func(caller, callee LegReport) reports.Result) reports.Result {
	dropped := false
	var actions []reports.Action
	if out.Err() == nil && in.Err() == nil {
		if spec.OnMedia != nil {
			spec.OnMedia(out, in)
		}
		dropped, actions = hold(ctx, spec, out, in)
	}
	_ = out.Close()
	_ = in.Close()
	res := combine(out.Report(), in.Report())
	if dropped && res.Outcome == reports.OutcomeOK {
		res.Outcome, res.Cause = reports.OutcomeFailed, reports.CauseDropped
		res.Error = "the call ended before its hold time: the far side hung up"
	}
	res = WithActions(res, actions)
	if ctx.Err() != nil && res.Outcome != reports.OutcomeOK && res.Cause != reports.CauseMedia {
		res.Cause = reports.CauseCanceled
	}
	return res
}

// hold keeps a connected call up for its hold time, then hangs it up from
// the chosen side and waits for the other side to see the BYE. It reports
// whether the call was dropped early by something other than ctx.
func hold(ctx context.Context, spec CallSpec, out, in *Leg) (dropped bool, actions []reports.Action) {
	up := time.Now()
	actx, stopActions := context.WithCancel(ctx)
	done := make(chan []reports.Action, 1)
	go func() { done <- runActions(actx, spec.Actions, up, out, in) }()
	timer := time.NewTimer(spec.Hold)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	case <-out.Done():
		dropped = true
	case <-in.Done():
		dropped = true
	}
	stopActions()
	actions = <-done
	if dropped {
		return true, actions
	}
	hangup, other := out, in
	if spec.CalleeHangsUp {
		hangup, other = in, out
	}
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), spec.Teardown)
	defer cancel()
	if err := hangup.Hangup(tctx); err != nil {
		hangup.e.log.Debug("hangup failed", "call", spec.ID, "err", err)
	}
	if hangup.direct {
		return false, actions // no BYE to wait for: the caller of hold closes both legs
	}
	select {
	case <-other.Done():
	case <-tctx.Done():
	}
	return false, actions
}

// WithActions puts the actions in the record; a failed one fails a call
// that was otherwise fine.
func WithActions(res reports.Result, actions []reports.Action) reports.Result {
	res.Actions = actions
	if a, failed := failedAction(actions); failed && res.Outcome == reports.OutcomeOK {
		res.Outcome, res.Cause = reports.OutcomeFailed, reports.CauseAction
		res.Error = fmt.Sprintf("%v: %s by the %s at %.0f ms: %s", ErrAction, a.Do, a.By, a.AtMS, a.Error)
	}
	return res
}
