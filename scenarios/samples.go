package scenarios

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/reports"
)

// SampleEvery is how often the runner reads the calls in progress for the
// run's quality time series (records of kind interval).
const SampleEvery = time.Second

// liveCalls are the calls whose media is up, by call ID.
type liveCalls struct {
	mu    sync.Mutex
	calls map[string][2]*endpoint.Leg
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

func (lc *liveCalls) snapshot() [][2]*endpoint.Leg {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	out := make([][2]*endpoint.Leg, 0, len(lc.calls))
	for _, legs := range lc.calls {
		out = append(out, legs)
	}
	return out
}

// sampleLoop reports an interval record every SampleEvery while calls are
// up, until ctx ends.
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

// sample reads every live call's directions over [start, end).
func (r *runner) sample(start, end time.Time) (reports.Result, bool) {
	live := r.live.snapshot()
	if len(live) == 0 {
		return reports.Result{}, false
	}
	iv := reports.Interval{Active: len(live)}
	var delayN int
	for _, legs := range live {
		for _, l := range legs {
			s, ok := l.Sample(end)
			switch {
			case !ok:
				continue
			case s.Received == 0:
				iv.Silent++
				continue
			}
			iv.Directions++
			iv.LossPct += s.LossPct
			iv.EffectiveLossPct += s.EffectiveLossPct
			iv.JitterMS += s.JitterMS
			if s.DelayCount > 0 {
				iv.DelayMS += s.DelayMeanMS
				delayN++
			}
			iv.MOS += s.MOS
			if s.MOS > 0 && (iv.MOSMin == 0 || s.MOS < iv.MOSMin) {
				iv.MOSMin = s.MOS
			}
		}
	}
	if n := float64(iv.Directions); n > 0 {
		iv.LossPct, iv.EffectiveLossPct, iv.JitterMS, iv.MOS = iv.LossPct/n, iv.EffectiveLossPct/n, iv.JitterMS/n, iv.MOS/n
	}
	if delayN > 0 {
		iv.DelayMS /= float64(delayN)
	}
	return reports.Result{
		Kind: reports.KindInterval, ID: fmt.Sprintf("interval-%d", end.Unix()),
		Start: start, End: end, Outcome: reports.OutcomeOK, Interval: &iv,
	}, true
}
