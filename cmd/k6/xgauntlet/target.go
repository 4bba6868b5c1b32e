package xgauntlet

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/gauntlet-rtc/gauntlet/scenarios"
)

// Target is one target file's deployment as the k6 process drives it: one
// pacing clock and one guard for every VU, and each VU's pair of agents.
type Target struct {
	file *scenarios.Target

	startOnce sync.Once
	startErr  error
	guard     *socket.Guard
	sources   *socket.Sources
	clock     *media.Clock
	stopClock func()

	mu     sync.Mutex
	pairs  map[int]*pair // by user index
	closed bool
}

// pair is a VU's browser and phone: the VU's calls go from one to the
// other, one at a time.
type pair struct {
	mu             sync.Mutex
	caller, callee *endpoint.Endpoint
	err            error
}

func newTarget(t *scenarios.Target) *Target {
	return &Target{file: t, pairs: map[int]*pair{}}
}

// start resolves the guard and starts the clock, once. The clock outlives
// any one VU's context: close stops it.
func (t *Target) start(ctx context.Context) error {
	t.startOnce.Do(func() {
		guard, err := t.file.Guard(ctx)
		if err != nil {
			t.startErr = err
			return
		}
		if t.sources, err = t.file.Sources(ctx); err != nil {
			t.startErr = err
			return
		}
		clock, err := media.NewClock()
		if err != nil {
			t.startErr = err
			return
		}
		stop, err := clock.Start(context.Background())
		if err != nil {
			t.startErr = err
			return
		}
		t.guard, t.clock, t.stopClock = guard, clock, stop
	})
	return t.startErr
}

// errClosed is returned for calls after close.
var errClosed = errors.New("gauntlet: the target was closed")

// pairFor returns the agents of user index i (a VU's), bringing them up
// and registering them on its first call: user i of the target's webrtc
// and sip entries.
func (t *Target) pairFor(ctx context.Context, i int) (*pair, error) {
	if err := t.start(ctx); err != nil {
		return nil, err
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, errClosed
	}
	p, ok := t.pairs[i]
	if !ok {
		p = &pair{}
		t.pairs[i] = p
	}
	t.mu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.caller != nil || p.err != nil {
		return p, p.err
	}
	caller, err := t.endpoint(ctx, scenarios.KindWebRTC, i)
	if err != nil {
		p.err = err
		return p, err
	}
	callee, err := t.endpoint(ctx, scenarios.KindSIP, i)
	if err != nil {
		_ = caller.Close()
		p.err = err
		return p, err
	}
	p.caller, p.callee = caller, callee
	return p, nil
}

// endpoint brings up user i of kind k and registers it.
func (t *Target) endpoint(ctx context.Context, k scenarios.Kind, i int) (*endpoint.Endpoint, error) {
	src, err := t.sources.Next()
	if err != nil {
		return nil, err
	}
	n, err := socket.New(socket.WithSourceIP(src), socket.WithGuard(t.guard))
	if err != nil {
		return nil, err
	}
	cfg, err := t.file.EndpointConfig(scenarios.NewPopulation(string(k), k, 1), i, n, t.clock)
	if err != nil {
		return nil, err
	}
	ep, err := endpoint.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if reg := ep.Register(ctx); reg.Outcome != reports.OutcomeOK {
		_ = ep.Close()
		return nil, fmt.Errorf("gauntlet: REGISTER %s: %s", ep.User(), reg.Error)
	}
	return ep, nil
}

// close unregisters and closes every agent and stops the clock; calls
// after it fail.
func (t *Target) close(ctx context.Context) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	pairs := t.pairs
	t.mu.Unlock()
	var errs []error
	for _, p := range pairs {
		p.mu.Lock()
		for _, ep := range []*endpoint.Endpoint{p.caller, p.callee} {
			if ep != nil {
				_ = ep.Unregister(ctx)
				errs = append(errs, ep.Close())
			}
		}
		p.mu.Unlock()
	}
	if t.stopClock != nil {
		t.stopClock()
	}
	return errors.Join(errs...)
}
