package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"golang.org/x/sync/errgroup"
)

// ErrUnreachable is returned by Run when no virtual user could reach the
// target at all (exit code 3); it wraps the first such error, which names
// the address.
var ErrUnreachable = errors.New("the target could not be reached")

// RunConfig is what Run needs. Scenario and Target must be valid (Load and
// LoadTarget validate them) and checked against each other (Target.Check).
type RunConfig struct {
	Scenario *Scenario
	Target   *Target
	Seed     int64
	// Reporter receives every record: REGISTERs, then calls as they end.
	Reporter reports.Reporter
	// Progress, if set, is called about every ProgressEvery (default 1 s)
	// and once at the end.
	Progress      func(Progress)
	ProgressEvery time.Duration
	Logger        *slog.Logger
}

// Progress is the live state of a run.
type Progress struct {
	Elapsed    time.Duration
	Planned    int
	Started    int
	Active     int
	Completed  int // calls ended, connected or not
	Failed     int
	Connected  int // calls whose ICE (or plain RTP) came up
	Relayed    int
	MOSSum     float64 // over calls with a MOS; MOSCount of them
	MOSCount   int
	Registered int
	Final      bool
}

// RunInfo is what a run says about itself beyond its records.
type RunInfo struct {
	Interrupted bool      // ctx was cancelled before the plan was done
	LimitHit    bool      // the run's time limit stopped it
	Start, End  time.Time // of the whole run
	Warnings    []string  // for the console and the reports
	PacingLag   media.Lag
}

// Run executes the scenario against the target: it brings up every virtual
// user, registers them, places the planned calls at the scenario's pace
// and concurrency, and hands one record per attempt to the reporter. It
// returns when the plan is done, the run's time limit passes or ctx ends;
// in every case every record measured so far has been reported, every
// virtual user is closed and every goroutine has exited.
func Run(ctx context.Context, cfg RunConfig) (RunInfo, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = time.Second
	}
	s := cfg.Scenario
	info := RunInfo{Start: time.Now(), Warnings: s.Warnings()}
	limit, computed := s.RunLimit()
	if computed {
		cfg.Logger.Debug("run limit computed from the scenario", "limit", limit)
	}

	clock, err := media.NewClock()
	if err != nil {
		return info, err
	}
	r := &runner{cfg: cfg, log: cfg.Logger, clock: clock, plan: Plan(s, cfg.Seed)}
	r.progress.Planned = len(r.plan)

	// The clock and the progress reporter outlive the calls; they stop when
	// bg is cancelled, after everything else has finished.
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var bgGroup errgroup.Group
	bgGroup.Go(func() error { return clock.Run(bg) })
	if cfg.Progress != nil {
		bgGroup.Go(func() error { r.reportProgress(bg); return nil })
	}
	defer func() {
		stopBG()
		_ = bgGroup.Wait()
	}()

	runCtx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	pops, err := r.startPopulations(runCtx)
	defer pops.close(context.WithoutCancel(ctx), ctx.Err() == nil)
	if err != nil {
		info.End = time.Now()
		return info, err
	}
	r.pops = pops
	r.runPlan(runCtx)

	info.End = time.Now()
	info.Interrupted = ctx.Err() != nil
	info.LimitHit = !info.Interrupted && errors.Is(runCtx.Err(), context.DeadlineExceeded)
	if info.LimitHit {
		info.Warnings = append(info.Warnings, fmt.Sprintf(
			"the run's time limit (%s) passed before the plan was done: %d of %d calls started",
			limit, r.started.Load(), len(r.plan)))
	}
	info.PacingLag = clock.Lag()
	if w := lagWarning(info.PacingLag); w != "" {
		info.Warnings = append(info.Warnings, w)
	}
	if cfg.Progress != nil {
		p := r.snapshot()
		p.Final = true
		cfg.Progress(p)
	}
	return info, nil
}

// runner holds one run's state.
type runner struct {
	cfg   RunConfig
	log   *slog.Logger
	clock *media.Clock
	plan  []PlannedCall
	pops  *populations

	started  atomic.Int64
	mu       sync.Mutex
	progress Progress
	began    time.Time
}

// runPlan paces the planned calls and waits for every one it started.
func (r *runner) runPlan(ctx context.Context) {
	pacer := r.cfg.Scenario.Pacer()
	slots := make(chan struct{}, r.cfg.Scenario.Load.Concurrency)
	var calls sync.WaitGroup
	defer calls.Wait()
	r.mu.Lock()
	r.began = time.Now()
	r.mu.Unlock()
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for i, pc := range r.plan {
		wait, stop := pacer.Pace(time.Since(r.began), uint64(i))
		if stop {
			return
		}
		if wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		select {
		case <-ctx.Done():
			return
		case slots <- struct{}{}:
		}
		r.started.Add(1)
		r.update(func(p *Progress) { p.Started++; p.Active++ })
		calls.Add(1)
		go func() {
			defer calls.Done()
			defer func() { <-slots }()
			res := r.call(ctx, pc)
			r.cfg.Reporter.Add(res)
			r.count(res)
		}()
	}
}
