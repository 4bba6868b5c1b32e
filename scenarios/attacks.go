package scenarios

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/attack"
	"github.com/gauntlet-rtc/gauntlet/reports"
)

// attacks checks the scenario's attack names: known, and each once.
func (v validator) attacks(names []string) {
	known := attack.All()
	knownNames := make([]string, len(known))
	for i, a := range known {
		knownNames[i] = a.Name
	}
	for i, n := range names {
		p := indexPath("attacks", i)
		switch {
		case !slices.Contains(knownNames, n):
			v.l.add(p, ErrUnknownName, "unknown attack %q%s; known: %s", n, didYouMean(n, knownNames), joinQuoted(knownNames))
		case slices.Index(names, n) < i:
			v.l.add(p, ErrDuplicate, "attack %q listed twice", n)
		}
	}
}

// usersPlaced is how many virtual users the scenario's populations take:
// attacks running beside the load take the target's users after them.
func (s *Scenario) usersPlaced() int {
	n := 0
	for _, p := range s.Populations {
		n += p.Count
	}
	return n
}

// runAttacks runs the scenario's attacks one after another beside the
// load, each reported as a record of kind attack, until done or ctx ends.
func (r *runner) runAttacks(ctx context.Context) {
	chosen, err := attack.Select(r.cfg.Scenario.Attacks)
	if err != nil { // validation refused unknown names already
		r.log.Error("attacks not run", "err", err)
		return
	}
	env, err := r.cfg.Target.AttackEnv(ctx, r.clock, r.log, r.cfg.CaptureDir, r.cfg.Scenario.usersPlaced())
	if err != nil {
		r.report(reports.Result{Kind: reports.KindAttack, ID: "attacks", Start: time.Now(), End: time.Now(),
			Outcome: reports.OutcomeFailed, Cause: reports.CauseUnreachable, Error: err.Error()})
		return
	}
	for _, a := range chosen {
		if ctx.Err() != nil {
			return
		}
		start := time.Now()
		out := attack.Run(ctx, a, env)
		f := out.Finding(a.Name)
		res := reports.Result{Kind: reports.KindAttack, ID: "attack-" + a.Name, Start: start, End: time.Now(), Outcome: reports.OutcomeOK, Attack: &f}
		if ctx.Err() != nil && out.Verdict == attack.Inconclusive {
			res.Cause = reports.CauseCanceled
		}
		r.report(res)
	}
}

// alongside runs the plan and, when the scenario names attacks, the
// attacks beside it; it returns when both are done.
func (r *runner) alongside(ctx context.Context) {
	var wg sync.WaitGroup
	if len(r.cfg.Scenario.Attacks) > 0 {
		wg.Go(func() { r.runAttacks(ctx) })
	}
	r.runPlan(ctx)
	wg.Wait()
}
