package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
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
	// CaptureDir is where attacks write the pcaps of their own traffic
	// ("" for none).
	CaptureDir string
}

// Progress is the live state of a run. Planned, Started, Active,
// Completed, Failed, Connected, Relayed and the MOS count the plan's
// units, calls and rooms alike: a room is failed when one of its
// participants failed, connected (relayed) when every participant's ICE
// connected (through a relay), and its MOS is its participants' lowest.
type Progress struct {
	// Unit names what the counts below count: "calls", "rooms" or "calls
	// and rooms", as the scenario's flows place them.
	Unit       string
	Elapsed    time.Duration
	Planned    int
	Started    int
	Active     int
	Completed  int // calls (and rooms) ended, connected or not
	Failed     int
	Connected  int // calls whose ICE (or plain RTP) came up
	Relayed    int
	MOSSum     float64 // over calls with a MOS; MOSCount of them
	MOSCount   int
	Registered int
	// Rooms counts the rooms among Completed; Participants and
	// ParticipantsFailed their participant records, Leaks the addresses
	// those records say reached a participant.
	Rooms              int
	Participants       int
	ParticipantsFailed int
	Leaks              int
	Final              bool
}

// RunInfo is what a run says about itself beyond its records.
type RunInfo struct {
	Interrupted bool      // ctx was cancelled before the plan was done
	LimitHit    bool      // the run's time limit stopped it
	Start, End  time.Time // of the whole run
	Warnings    []string  // for the console and the reports
	PacingLag   media.Lag
	CPU         float64 // share of GOMAXPROCS CPUs the process used over the run
	Saturated   bool    // the load generator itself ran short (see Warnings)
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
	cpu0 := processCPU()
	limit, computed := s.RunLimit()
	if computed {
		cfg.Logger.Debug("run limit computed from the scenario", "limit", limit)
	}

	clock, err := media.NewClock()
	if err != nil {
		return info, err
	}
	r := &runner{cfg: cfg, log: cfg.Logger, clock: clock, origin: info.Start}
	r.progress.Planned, r.progress.Unit = s.Load.Calls, s.Units()

	// The clock and the progress reporter outlive the calls; they stop when
	// bg is cancelled, after everything else has finished.
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var bgGroup errgroup.Group
	bgGroup.Go(func() error { return clock.Run(bg) })
	if cfg.Progress != nil {
		bgGroup.Go(func() error { r.reportProgress(bg); return nil })
	}
	bgGroup.Go(func() error { r.sampleLoop(bg); return nil })
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
	r.alongside(runCtx)

	info.End = time.Now()
	info.Interrupted = ctx.Err() != nil
	info.LimitHit = !info.Interrupted && errors.Is(runCtx.Err(), context.DeadlineExceeded)
	if info.LimitHit {
		info.Warnings = append(info.Warnings, fmt.Sprintf(
			"the run's time limit (%s) passed before the plan was done: %d %s started",
			limit, r.started.Load(), s.Units()))
	}
	info.PacingLag = clock.Lag()
	info.CPU = cpuShare(processCPU()-cpu0, info.End.Sub(info.Start))
	if info.CPU > cpuWarnShare {
		info.Saturated = true
		info.Warnings = append(info.Warnings, fmt.Sprintf(
			"the load generator used %.0f%% of its %d CPUs over the run: its own scheduling may show in setup, jitter and delay figures (use fewer calls per machine)",
			info.CPU*100, runtime.GOMAXPROCS(0)))
	}
	if w := lagWarning(info.PacingLag); w != "" {
		info.Warnings = append(info.Warnings, w)
		info.Saturated = true
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
	pops  *populations

	origin   time.Time // the run's start: time zero of network schedules
	live     liveCalls // calls with media up, read for the time series
	started  atomic.Int64
	mu       sync.Mutex
	progress Progress
	began    time.Time
}

// runPlan places calls as the load says (count, rate, concurrency or
// stages, duration) and waits for every one it started.
func (r *runner) runPlan(ctx context.Context) {
	ld := r.cfg.Scenario.Load
	pacer := r.cfg.Scenario.Pacer()
	planner := NewPlanner(r.cfg.Scenario, r.cfg.Seed)
	if planner == nil {
		return
	}
	ended := make(chan struct{}, 1)
	var active atomic.Int64
	var calls sync.WaitGroup
	defer calls.Wait()
	r.mu.Lock()
	r.began = time.Now()
	r.mu.Unlock()
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	window := ld.Window()
	for seq := 0; ld.Calls < 1 || seq < ld.Calls; seq++ {
		wait, stop := pacer.Pace(time.Since(r.began), uint64(seq))
		if stop || !sleepCtx(ctx, timer, wait) {
			return
		}
		if window > 0 && time.Since(r.began) >= window {
			return
		}
		if !r.awaitSlot(ctx, timer, &active, ended) {
			return
		}
		pc := planner.Next()
		active.Add(1)
		r.started.Add(1)
		r.update(func(p *Progress) { p.Started++; p.Active++ })
		calls.Add(1)
		go func() {
			defer calls.Done()
			if pc.IsRoom() {
				results := r.room(ctx, pc)
				for _, res := range results {
					r.cfg.Reporter.Add(res)
				}
				r.countRoom(results)
			} else {
				res := r.call(ctx, pc)
				r.cfg.Reporter.Add(res)
				r.count(res)
			}
			active.Add(-1)
			select {
			case ended <- struct{}{}:
			default:
			}
		}()
	}
}

// slotPoll is how often a ramping concurrency limit is looked at again
// while no call ends.
const slotPoll = 50 * time.Millisecond

// awaitSlot waits until fewer calls are up than the load allows now. It
// returns false when ctx ends or the stages are over.
func (r *runner) awaitSlot(ctx context.Context, timer *time.Timer, active *atomic.Int64, ended <-chan struct{}) bool {
	for {
		limit, ok := r.cfg.Scenario.Load.ConcurrencyAt(time.Since(r.began))
		if !ok {
			return false
		}
		if active.Load() < int64(limit) {
			return true
		}
		timer.Reset(slotPoll)
		select {
		case <-ctx.Done():
			return false
		case <-ended:
			timer.Stop() // Go >= 1.23: no stale tick is left to drain
		case <-timer.C:
		}
	}
}

// sleepCtx waits d on timer; false when ctx ended first.
func sleepCtx(ctx context.Context, timer *time.Timer, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer.Reset(d)
	select {
	case <-ctx.Done():
		timer.Stop()
		return false
	case <-timer.C:
		return true
	}
}
