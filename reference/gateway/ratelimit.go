package gateway

import (
	"sync"
	"time"

	"github.com/gauntlet-rtc/gauntlet/reference/internal/ratelimit"
)

// limiter is a token bucket per key, a source address or a user
// (ratelimit.Limiter), the least recently seen keys forgotten beyond max so
// memory stays bounded under a flood from many sources.
type limiter ratelimit.Limiter

func newLimiter(r Rate, maxKeys int) *limiter {
	return (*limiter)(ratelimit.New(r.PerSecond, r.Burst, maxKeys))
}

// allow takes one token from key's bucket at now; false means over the limit.
func (l *limiter) allow(key string, now time.Time) bool {
	ok, _ := (*ratelimit.Limiter)(l).Allow(key, now)
	return ok
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
