package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter is a token bucket per key, for at most a bounded number of keys
// (the least recently seen forgotten first, their buckets full again when
// they come back). It is safe for concurrent use. A nil Limiter allows
// everything.
type Limiter struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	buckets *Keys[*rate.Limiter]
}

// New returns a Limiter refilling each key's bucket at perSecond tokens a
// second up to burst, remembering at most maxKeys keys.
func New(perSecond float64, burst, maxKeys int) *Limiter {
	return &Limiter{limit: rate.Limit(perSecond), burst: burst, buckets: NewKeys[*rate.Limiter](maxKeys)}
}

// Allow takes one token from key's bucket at now. When it is refused, wait
// is how long one token takes to come back at the steady rate.
func (l *Limiter) Allow(key string, now time.Time) (ok bool, wait time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets.Use(key, func() *rate.Limiter { return rate.NewLimiter(l.limit, l.burst) })
	if b.AllowN(now, 1) {
		return true, 0
	}
	return false, time.Duration(float64(time.Second) / float64(l.limit))
}
