package gateway

import (
	"container/list"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter is a token bucket per key (a source address or a user), the
// least recently seen keys forgotten beyond max so memory stays bounded
// under a flood from many sources.
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

// allow takes one token from key's bucket at now; false means over the limit.
func (l *limiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.keys[key]
	if ok {
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
	return e.Value.(*bucket).lim.AllowN(now, 1)
}

// tracked is how many keys the limiter remembers.
func (l *limiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// limits are every limiter of a gateway; nil when rate limits are weakened.
type limits struct {
	registerSource, registerUser *limiter
	inviteSource, inviteUser     *limiter
	wsSource                     *limiter
	turnSource                   *limiter
}

func newLimits(c RateLimitConfig) *limits {
	return &limits{
		registerSource: newLimiter(c.RegisterPerSource, c.MaxTracked),
		registerUser:   newLimiter(c.RegisterPerUser, c.MaxTracked),
		inviteSource:   newLimiter(c.InvitePerSource, c.MaxTracked),
		inviteUser:     newLimiter(c.InvitePerUser, c.MaxTracked),
		wsSource:       newLimiter(c.WSUpgradePerSource, c.MaxTracked),
		turnSource:     newLimiter(c.WSUpgradePerSource, c.MaxTracked),
	}
}

// callCounts counts the calls each user is in, to cap them.
type callCounts struct {
	mu    sync.Mutex
	byKey map[string]int
	total int
}

func newCallCounts() *callCounts { return &callCounts{byKey: map[string]int{}} }

// take counts one call for each of users unless one of them, or the whole
// gateway, is at its cap (perUser or total <= 0: no cap).
func (c *callCounts) take(users []string, perUser, total int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if total > 0 && c.total >= total {
		return false
	}
	if perUser > 0 {
		for _, u := range users {
			if c.byKey[u] >= perUser {
				return false
			}
		}
	}
	c.total++
	for _, u := range users {
		c.byKey[u]++
	}
	return true
}

// add counts one more call for user without a cap (a transfer target).
func (c *callCounts) add(user string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byKey[user]++
}

// release gives back what take or add counted.
func (c *callCounts) release(users []string, call bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if call {
		c.total--
	}
	for _, u := range users {
		if c.byKey[u]--; c.byKey[u] <= 0 {
			delete(c.byKey, u)
		}
	}
}

func (c *callCounts) active() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}
