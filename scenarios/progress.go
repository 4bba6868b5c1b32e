package scenarios

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/reports"
)

// update changes the live progress under the lock.
func (r *runner) update(fn func(*Progress)) {
	r.mu.Lock()
	fn(&r.progress)
	r.mu.Unlock()
}

// count folds a finished call into the live progress.
func (r *runner) count(res reports.Result) {
	r.update(func(p *Progress) {
		p.Active--
		p.Completed++
		if res.Outcome != reports.OutcomeOK {
			p.Failed++
		}
		if res.ICE.Connected || res.Phases.FirstMediaMS > 0 {
			p.Connected++
		}
		if res.ICE.Relay {
			p.Relayed++
		}
		if m, ok := callMOS(res); ok {
			p.MOSSum += m
			p.MOSCount++
		}
	})
}

func callMOS(res reports.Result) (float64, bool) {
	best, ok := 0.0, false
	for _, d := range res.Media {
		if d.MOS > 0 && (!ok || d.MOS < best) {
			best, ok = d.MOS, true
		}
	}
	return best, ok
}

func (r *runner) snapshot() Progress {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.progress
	if !r.began.IsZero() {
		p.Elapsed = time.Since(r.began)
	}
	return p
}

func (r *runner) reportProgress(ctx context.Context) {
	t := time.NewTicker(r.cfg.ProgressEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.cfg.Progress(r.snapshot())
		}
	}
}

// Saturation limits: past these the load generator's own figures are
// suspect, and the report says so.
const (
	lagWarnP99 = 5 * time.Millisecond
	lagWarnMax = 50 * time.Millisecond
)

// cpuWarnShare is the CPU share past which the run warns about itself.
const cpuWarnShare = 0.9

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuShare is cpu time as a share of wall time on GOMAXPROCS CPUs.
func cpuShare(cpu, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return float64(cpu) / (float64(wall) * float64(runtime.GOMAXPROCS(0)))
}

// lagWarning says when the pacing clock ran late enough that the load
// generator, not the target, may explain jitter and delay figures.
func lagWarning(l media.Lag) string {
	if l.P99 < lagWarnP99 && l.Max < lagWarnMax && l.Missed == 0 {
		return ""
	}
	return fmt.Sprintf("the load generator is saturated: media pacing ran late by p99 %s, max %s, %d ticks missed; "+
		"jitter and delay figures may be the harness's own, not the target's (use fewer calls per machine)",
		l.P99.Round(time.Microsecond), l.Max.Round(time.Microsecond), l.Missed)
}
