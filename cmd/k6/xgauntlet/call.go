package xgauntlet

import (
	"encoding/json"
	"fmt"
	"time"

	"go.k6.io/k6/js/modules"
	"go.k6.io/k6/lib"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/reports"
)

// Handle is a VU's view of an opened target: what the script calls.
type Handle struct {
	t       *Target
	vu      modules.VU
	metrics *callMetrics
	offset  int // added to the VU's user index
}

// CallOptions are call's options; durations as Go writes them ("3s").
type CallOptions struct {
	Hold          string `js:"hold"`          // media up to hang-up (default 3s)
	Setup         string `js:"setup"`         // dial to media up (default 15s)
	CalleeHangsUp bool   `js:"calleeHangsUp"` // else the caller hangs up
}

// Call places one call from this VU's browser to its phone and returns the
// call's record (as results.jsonl holds it); the metrics are pushed to k6.
// A call that fails is a record with its outcome and cause, not an error:
// errors are for what stops calls altogether (a bad target, a closed one).
func (h *Handle) Call(opts *CallOptions) (map[string]any, error) {
	if opts == nil {
		opts = &CallOptions{}
	}
	state := h.vu.State()
	if state == nil {
		return nil, fmt.Errorf("gauntlet: call belongs in a VU function, not the init context")
	}
	hold, err := duration(opts.Hold, 3*time.Second)
	if err != nil {
		return nil, fmt.Errorf("gauntlet: hold: %w", err)
	}
	setup, err := duration(opts.Setup, 15*time.Second)
	if err != nil {
		return nil, fmt.Errorf("gauntlet: setup: %w", err)
	}
	ctx := h.vu.Context()
	p, err := h.t.pairFor(ctx, h.offset+vuIndex(state))
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	res := endpoint.PlaceCall(ctx, p.caller, p.callee, endpoint.CallSpec{
		ID:   fmt.Sprintf("k6-vu%d-%d", state.VUID, state.Iteration),
		Hold: hold, Setup: setup, CalleeHangsUp: opts.CalleeHangsUp,
	})
	p.mu.Unlock()
	h.metrics.push(ctx, state, res)
	return record(res)
}

// Close unregisters and closes every agent of the target (call it from
// teardown); calls after it fail.
func (h *Handle) Close() error { return h.t.close(h.vu.Context()) }

func duration(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err == nil && d <= 0 {
		err = fmt.Errorf("%q is not positive", s)
	}
	return d, err
}

// record is the call's record as a plain object for JavaScript.
func record(r reports.Result) (map[string]any, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

// vuIndex is the VU's 0-based index across the whole test: k6 numbers VUs
// across instances when a test is split into execution segments (k6
// operator, --execution-segment), so machines of one run take distinct
// users without offsets; a lone instance numbers them the same way.
func vuIndex(state *lib.State) int {
	if state.VUIDGlobal > 0 {
		return int(state.VUIDGlobal) - 1
	}
	return int(state.VUID) - 1
}
