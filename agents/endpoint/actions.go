package endpoint

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gauntlet-rtc/gauntlet/reports"
)

// Mid-call actions a call can run (CallSpec.Actions).
const (
	ActionHold       = "hold"        // re-INVITE a=sendonly, and a=sendrecv For later (0: held to the end)
	ActionICERestart = "ice-restart" // re-INVITE with new ICE credentials; media must resume
	ActionDTMF       = "dtmf"        // RFC 4733 digits, which the far end must hear
)

// Action is one mid-call action, At after both legs carry media.
type Action struct {
	At       time.Duration
	Do       string
	For      time.Duration // hold: until unhold
	Digits   string        // dtmf
	ByCallee bool          // else the caller acts
}

// ErrAction wraps every failed action in a record's error.
var ErrAction = errors.New("endpoint: mid-call action failed")

// dtmfWait is how long the far end has to hear the last digit.
const dtmfWait = 3 * time.Second

// runActions runs the actions in order of At, from up, until ctx ends,
// and reports each. It returns once every action it started finished.
func runActions(ctx context.Context, actions []Action, up time.Time, caller, callee *Leg) []reports.Action {
	sorted := slices.Clone(actions)
	slices.SortStableFunc(sorted, func(a, b Action) int { return int(a.At - b.At) })
	var out []reports.Action
	var unholds []Action // pending unholds, as actions of their own
	next := func() (Action, bool) {
		switch {
		case len(sorted) == 0 && len(unholds) == 0:
			return Action{}, false
		case len(unholds) > 0 && (len(sorted) == 0 || unholds[0].At <= sorted[0].At):
			a := unholds[0]
			unholds = unholds[1:]
			return a, true
		}
		a := sorted[0]
		sorted = sorted[1:]
		return a, true
	}
	for {
		a, ok := next()
		if !ok {
			return out
		}
		wait := time.NewTimer(time.Until(up.Add(a.At)))
		select {
		case <-ctx.Done():
			wait.Stop()
			return out
		case <-wait.C:
		}
		actor, other := caller, callee
		rec := reports.Action{Do: a.Do, By: "caller"}
		if a.ByCallee {
			actor, other, rec.By = callee, caller, "callee"
		}
		start := time.Now()
		rec.AtMS = ms(start.Sub(up))
		err := runAction(ctx, a, actor, other)
		rec.TookMS = ms(time.Since(start))
		rec.OK = err == nil
		if err != nil {
			rec.Error = err.Error()
		}
		out = append(out, rec)
		if a.Do == ActionHold && err == nil && a.For > 0 {
			unholds = append(unholds, Action{At: a.At + a.For, Do: "unhold", ByCallee: a.ByCallee})
			slices.SortStableFunc(unholds, func(x, y Action) int { return int(x.At - y.At) })
		}
	}
}

func runAction(ctx context.Context, a Action, actor, other *Leg) error {
	switch a.Do {
	case ActionHold:
		return actor.Hold(ctx)
	case "unhold":
		return actor.Unhold(ctx)
	case ActionICERestart:
		return actor.RestartICE(ctx)
	case ActionDTMF:
		before := other.Digits()
		if err := actor.SendDTMF(ctx, a.Digits); err != nil {
			return err
		}
		deadline := time.NewTimer(dtmfWait)
		defer deadline.Stop()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if got := other.Digits(); got == before+a.Digits {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-deadline.C:
				return fmt.Errorf("the far end heard %q after sending %q", other.Digits()[len(before):], a.Digits)
			case <-tick.C:
			}
		}
	}
	return fmt.Errorf("unknown action %q", a.Do)
}

// failedAction returns the first action that failed, if any.
func failedAction(actions []reports.Action) (reports.Action, bool) {
	for _, a := range actions {
		if !a.OK {
			return a, true
		}
	}
	return reports.Action{}, false
}
