package media_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
)

type recordingTicker struct {
	mu    sync.Mutex
	ticks []time.Time
	work  time.Duration
}

func (r *recordingTicker) Tick(scheduled time.Time) {
	r.mu.Lock()
	r.ticks = append(r.ticks, scheduled)
	r.mu.Unlock()
	if r.work > 0 {
		time.Sleep(r.work)
	}
}

func (r *recordingTicker) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ticks)
}

func TestClockAbsoluteStaggeredTicks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := media.NewClock(media.WithShards(2))
		if err != nil {
			t.Fatal(err)
		}
		a, b := &recordingTicker{}, &recordingTicker{}
		c.Add(a)
		c.Add(b)
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 1005*time.Millisecond)
		defer cancel()
		if err := c.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Run = %v", err)
		}
		// Shard 0 ticks at 0, 20, ..., 1000 ms; shard 1 at 10, 30, ..., 990 ms.
		for i, r := range []*recordingTicker{a, b} {
			phase := time.Duration(i) * 10 * time.Millisecond
			want := 51 - i
			if len(r.ticks) != want {
				t.Fatalf("stream %d: %d ticks, want %d", i, len(r.ticks), want)
			}
			for k, got := range r.ticks {
				if exp := start.Add(phase + time.Duration(k)*20*time.Millisecond); !got.Equal(exp) {
					t.Fatalf("stream %d tick %d at %v, want %v", i, k, got.Sub(start), exp.Sub(start))
				}
			}
		}
		lag := c.Lag()
		if lag.Ticks != 101 || lag.Missed != 0 || lag.Max != 0 {
			t.Fatalf("lag %+v", lag)
		}
	})
}

func TestClockSkipsMissedTicks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := media.NewClock(media.WithShards(1))
		if err != nil {
			t.Fatal(err)
		}
		slow := &recordingTicker{work: 50 * time.Millisecond}
		c.Add(slow)
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 205*time.Millisecond)
		defer cancel()
		_ = c.Run(ctx)
		// Each tick takes 50 ms. After a tick the shard runs the latest grid
		// point already passed, at once, and skips the ones before it: ticks
		// at 0, 40 (run at 50), 100, 140 (run at 150), 200; never a burst,
		// always on the 20 ms grid.
		want := []time.Duration{0, 40, 100, 140, 200}
		if len(slow.ticks) != len(want) {
			t.Fatalf("%d ticks at %v, want %v ms", len(slow.ticks), slow.ticks, want)
		}
		for i, got := range slow.ticks {
			if got.Sub(start) != want[i]*time.Millisecond {
				t.Fatalf("tick %d at %v, want %v ms", i, got.Sub(start), want[i])
			}
		}
		// Skipped: 20; 60, 80; 120; 160, 180; 220.
		if lag := c.Lag(); lag.Missed != 7 || lag.Ticks != 5 || lag.Max != 10*time.Millisecond {
			t.Fatalf("lag %+v, want 5 ticks, 7 missed, max 10ms", lag)
		}
	})
}

func TestClockAddRemoveWhileRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := media.NewClock()
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- c.Run(ctx) }()
		r := &recordingTicker{}
		time.Sleep(101 * time.Millisecond)
		remove := c.Add(r) // shard 0 (phase 0) ticks it at 120, 140, 160, 180, 200
		time.Sleep(100 * time.Millisecond)
		remove()
		remove()
		n := r.count()
		time.Sleep(100 * time.Millisecond)
		if err := c.Run(ctx); !errors.Is(err, media.ErrClockRunning) {
			t.Fatalf("second Run = %v", err)
		}
		cancel()
		<-done
		if n != 5 || r.count() != n || c.Len() != 0 {
			t.Fatalf("ticks %d then %d, len %d; want 5, 5, 0", n, r.count(), c.Len())
		}
	})
}

func TestClockOptionsRejectBadValues(t *testing.T) {
	if _, err := media.NewClock(media.WithShards(0)); err == nil {
		t.Error("0 shards accepted")
	}
	if _, err := media.NewClock(media.WithInterval(0)); err == nil {
		t.Error("0 interval accepted")
	}
}

func TestClockStartShardsExistOnReturn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := media.NewClock(media.WithShards(3))
		if err != nil {
			t.Fatal(err)
		}
		before := runtime.NumGoroutine()
		stop, err := c.Start(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n := runtime.NumGoroutine() - before; n != 3 {
			t.Fatalf("%d goroutines more on Start's return, want the 3 shards", n)
		}
		if _, err := c.Start(context.Background()); !errors.Is(err, media.ErrClockRunning) {
			t.Fatalf("second Start = %v, want ErrClockRunning", err)
		}
		r := &recordingTicker{}
		c.Add(r)
		time.Sleep(50 * time.Millisecond)
		stop()
		stop()
		if n := runtime.NumGoroutine() - before; n != 0 {
			t.Fatalf("%d goroutines left after stop", n)
		}
		n := r.count()
		time.Sleep(100 * time.Millisecond)
		if n == 0 || r.count() != n {
			t.Fatalf("ticks %d, then %d after stop; want some, then none", n, r.count())
		}
		stop, err = c.Start(context.Background())
		if err != nil {
			t.Fatalf("Start after stop = %v", err)
		}
		stop()
	})
}
