package rooms

import (
	"container/list"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter is a token bucket per key (a source IP), the least recently
// seen keys forgotten beyond max so memory stays bounded under a flood
// from many sources. A nil limiter allows everything (rate-limit weakened).
type limiter struct {
	limit rate.Limit
	burst int
	max   int

	mu   sync.Mutex
	keys map[string]*list.Element
	lru  list.List // of *bucket, most recent at the front
}

type bucket struct {
	key string
	lim *rate.Limiter
}

func newLimiter(r Rate, maxKeys int) *limiter {
	return &limiter{limit: rate.Limit(r.PerSecond), burst: r.Burst, max: maxKeys, keys: map[string]*list.Element{}}
}

// allow takes one token from key's bucket at now. When it is refused,
// wait is how long until one is there again.
func (l *limiter) allow(key string, now time.Time) (ok bool, wait time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e, found := l.keys[key]
	if found {
		l.lru.MoveToFront(e)
	} else {
		if l.lru.Len() >= l.max {
			oldest := l.lru.Back()
			delete(l.keys, oldest.Value.(*bucket).key)
			l.lru.Remove(oldest)
		}
		e = l.lru.PushFront(&bucket{key: key, lim: rate.NewLimiter(l.limit, l.burst)})
		l.keys[key] = e
	}
	lim := e.Value.(*bucket).lim
	if lim.AllowN(now, 1) {
		return true, 0
	}
	return false, time.Duration(float64(time.Second) / float64(l.limit))
}

// retryAfter is the Retry-After value in whole seconds: the wait rounded
// up, at least floor.
func retryAfter(wait time.Duration, floor int) int {
	return max(floor, int(math.Ceil(wait.Seconds())))
}

// limits are the service's per-source limiters; every one nil when rate
// limits are weakened.
type limits struct {
	create, join, credentials, upgrade *limiter
}

func newLimits(c RateLimits, off bool) limits {
	if off {
		return limits{}
	}
	return limits{
		create:      newLimiter(c.Create, c.MaxTracked),
		join:        newLimiter(c.Join, c.MaxTracked),
		credentials: newLimiter(c.Credentials, c.MaxTracked),
		upgrade:     newLimiter(c.WSUpgrade, c.MaxTracked),
	}
}
