package rooms

import (
	"math"
	"time"

	"github.com/gauntlet-rtc/gauntlet/reference/internal/ratelimit"
)

// limiter is a token bucket per source IP (ratelimit.Limiter), the least
// recently seen sources forgotten beyond max so memory stays bounded under
// a flood from many sources. A nil limiter allows everything (rate-limit
// weakened).
type limiter ratelimit.Limiter

func newLimiter(r Rate, maxKeys int) *limiter {
	return (*limiter)(ratelimit.New(r.PerSecond, r.Burst, maxKeys))
}

// allow takes one token from key's bucket at now. When it is refused,
// wait is how long until one is there again.
func (l *limiter) allow(key string, now time.Time) (ok bool, wait time.Duration) {
	return (*ratelimit.Limiter)(l).Allow(key, now)
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
