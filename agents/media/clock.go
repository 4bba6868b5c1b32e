package media

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClockRunning is returned by a second call to Run.
var ErrClockRunning = errors.New("media: clock already running")

// Ticker is a stream the Clock paces: Tick is called once per interval with
// the tick's scheduled time. It runs on a shard's goroutine, together with
// that shard's other streams: it must be quick and must not block.
type Ticker interface {
	Tick(scheduled time.Time)
}

// TickerFunc adapts a function to Ticker.
type TickerFunc func(scheduled time.Time)

// Tick calls f.
func (f TickerFunc) Tick(scheduled time.Time) { f(scheduled) }

// Clock is the one pacing clock every stream of a process shares (no ticker
// per call): a fixed number of shards, each a goroutine ticking every
// interval at start + phase + k*interval (absolute, never accumulated
// sleeps), phases staggered across the interval so the shards do not all
// wake at once. A shard that falls more than an interval behind skips the
// ticks it missed (counted) rather than bursting to catch up.
type Clock struct {
	interval time.Duration
	shards   []*shard
	running  atomic.Bool

	mu     sync.Mutex
	lag    histogram
	ticks  int64
	missed int64
}

type shard struct {
	mu      sync.Mutex // serialises Add and remove
	streams atomic.Pointer[[]*entry]
}

type entry struct{ t Ticker }

// ClockOption configures a Clock.
type ClockOption func(*Clock) error

// WithShards sets the number of worker goroutines (default 4).
func WithShards(n int) ClockOption {
	return func(c *Clock) error {
		if n < 1 || n > 256 {
			return fmt.Errorf("media: clock shards %d: want 1 to 256", n)
		}
		c.shards = make([]*shard, n)
		return nil
	}
}

// WithInterval sets the tick interval (default FrameDuration, 20 ms).
func WithInterval(d time.Duration) ClockOption {
	return func(c *Clock) error {
		if d < time.Millisecond {
			return fmt.Errorf("media: clock interval %v: want at least 1ms", d)
		}
		c.interval = d
		return nil
	}
}

// NewClock returns a Clock; Add streams to it and Run or Start it.
func NewClock(opts ...ClockOption) (*Clock, error) {
	c := &Clock{interval: FrameDuration, shards: make([]*shard, 4)}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	for i := range c.shards {
		c.shards[i] = &shard{}
		c.shards[i].streams.Store(&[]*entry{})
	}
	return c, nil
}

// Add puts t on the least loaded shard, from its next tick on. The returned
// function removes it (idempotent); after it returns, t is not ticked again
// unless a tick was already under way.
func (c *Clock) Add(t Ticker) (remove func()) {
	best := c.shards[0]
	for _, s := range c.shards[1:] {
		if len(*s.streams.Load()) < len(*best.streams.Load()) {
			best = s
		}
	}
	e := &entry{t: t}
	best.mu.Lock()
	old := *best.streams.Load()
	next := make([]*entry, len(old), len(old)+1)
	copy(next, old)
	next = append(next, e)
	best.streams.Store(&next)
	best.mu.Unlock()

	var once sync.Once
	return func() {
		once.Do(func() {
			best.mu.Lock()
			defer best.mu.Unlock()
			old := *best.streams.Load()
			next := make([]*entry, 0, len(old))
			for _, x := range old {
				if x != e {
					next = append(next, x)
				}
			}
			best.streams.Store(&next)
		})
	}
}

// Len returns how many streams are on the clock.
func (c *Clock) Len() int {
	n := 0
	for _, s := range c.shards {
		n += len(*s.streams.Load())
	}
	return n
}

// Run ticks until ctx ends, then returns once every shard goroutine has
// exited. It returns ctx's error, or ErrClockRunning if already running.
func (c *Clock) Run(ctx context.Context) error {
	stop, err := c.Start(ctx)
	if err != nil {
		return err
	}
	<-ctx.Done()
	stop()
	return ctx.Err()
}

// Start starts the shard goroutines, which tick until ctx ends or stop is
// called, and returns at once; they exist when it returns, so a goroutine
// snapshot taken afterwards (a leak check's baseline) includes them. stop
// ends the ticking and returns once every shard has exited; it may be
// called more than once. Start returns ErrClockRunning if already running.
func (c *Clock) Start(ctx context.Context) (stop func(), err error) {
	if !c.running.CompareAndSwap(false, true) {
		return nil, ErrClockRunning
	}
	ctx, cancel := context.WithCancel(ctx)
	start := time.Now()
	var wg sync.WaitGroup
	for i, s := range c.shards {
		phase := c.interval * time.Duration(i) / time.Duration(len(c.shards))
		wg.Go(func() { c.runShard(ctx, s, start.Add(phase)) })
	}
	var once sync.Once
	return func() {
		cancel()
		wg.Wait()
		once.Do(func() { c.running.Store(false) })
	}, nil
}

func (c *Clock) runShard(ctx context.Context, s *shard, origin time.Time) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for k := int64(0); ; {
		next := origin.Add(time.Duration(k) * c.interval)
		timer.Reset(time.Until(next))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if ctx.Err() != nil {
			return
		}
		lag := time.Since(next)
		for _, e := range *s.streams.Load() {
			e.t.Tick(next)
		}
		k++
		var missed int64
		if latest := int64(time.Since(origin) / c.interval); latest > k {
			missed = latest - k
			k = latest
		}
		c.record(lag, missed)
	}
}

func (c *Clock) record(lag time.Duration, missed int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ticks++
	c.missed += missed
	c.lag.add(float64(lag) / float64(time.Millisecond))
}

// Lag is how late the clock's ticks ran: actual minus scheduled time. A
// large P99 or any Missed means the load generator is saturated.
type Lag struct {
	Ticks  int64 // shard ticks run
	Missed int64 // ticks skipped because a shard fell an interval behind
	Max    time.Duration
	P99    time.Duration
}

// Lag returns the pacing figures so far.
func (c *Clock) Lag() Lag {
	c.mu.Lock()
	defer c.mu.Unlock()
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	return Lag{Ticks: c.ticks, Missed: c.missed, Max: ms(c.lag.max), P99: ms(c.lag.quantile(0.99))}
}
