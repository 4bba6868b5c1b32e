package gateway

import (
	"sync"
	"time"

	"github.com/gauntlet-rtc/gauntlet/reference/internal/ratelimit"
)

// lockout keeps the digest failures of users and sources (LockoutConfig)
// and says which are locked out. Each side remembers at most maxKeys
// keys, the least recently failed forgotten first, so memory stays
// bounded under a spray of made-up names. It is safe for concurrent use.
type lockout struct {
	cfg     LockoutConfig
	users   *failures
	sources *failures
}

func newLockout(cfg LockoutConfig, maxKeys int) *lockout {
	return &lockout{
		cfg:     cfg,
		users:   newFailures(cfg.PerUser, cfg.Window, cfg.Duration, maxKeys),
		sources: newFailures(cfg.PerSource, cfg.Window, cfg.Duration, maxKeys),
	}
}

// locked returns how long user or source stays locked out at now (the
// longer of the two), or 0 when neither is.
func (l *lockout) locked(user, source string, now time.Time) time.Duration {
	return max(l.users.locked(user, now), l.sources.locked(source, now))
}

// fail counts a wrong password for user from source at now.
func (l *lockout) fail(user, source string, now time.Time) {
	l.users.fail(user, now)
	l.sources.fail(source, now)
}

// succeed clears user's failures (a source's stay: a spray that includes
// one valid account must not reset itself).
func (l *lockout) succeed(user string) { l.users.clear(user) }

// failures counts failures per key within a window and locks a key out
// once it has limit of them.
type failures struct {
	limit    int
	window   time.Duration
	duration time.Duration

	mu   sync.Mutex
	keys *ratelimit.Keys[*failRecord]
}

type failRecord struct {
	times       []time.Time // failures within the window, oldest first
	lockedUntil time.Time
}

func newFailures(limit int, window, duration time.Duration, maxKeys int) *failures {
	return &failures{limit: limit, window: window, duration: duration, keys: ratelimit.NewKeys[*failRecord](maxKeys)}
}

func (f *failures) locked(key string, now time.Time) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.keys.Get(key)
	if !ok {
		return 0
	}
	if left := r.lockedUntil.Sub(now); left > 0 {
		return left
	}
	return 0
}

func (f *failures) fail(key string, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.keys.Use(key, func() *failRecord { return &failRecord{} })
	cut := 0
	for cut < len(r.times) && now.Sub(r.times[cut]) >= f.window {
		cut++
	}
	r.times = append(r.times[cut:], now)
	if len(r.times) >= f.limit {
		r.lockedUntil = now.Add(f.duration)
		r.times = r.times[:0]
	}
}

func (f *failures) clear(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.keys.Get(key); ok {
		r.times = r.times[:0]
	}
}

// tracked is how many keys are remembered.
func (f *failures) tracked() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.keys.Len()
}
