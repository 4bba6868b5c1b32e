package impair

import (
	"math/rand/v2"
	"time"
)

// Reasons a datagram was dropped, as the ground-truth log records them.
const (
	DropLoss  = "loss"  // random loss
	DropBurst = "burst" // Gilbert-Elliott burst loss
	DropQueue = "queue" // waited longer than the queue limit for the rate cap
)

// verdict is what happens to one datagram.
type verdict struct {
	drop   string    // why it was dropped; "" when it goes through
	due    time.Time // when it is released
	dup    bool      // a copy goes too, right after it
	dupDue time.Time
}

// pipe is one direction's state: the random source, the burst chain, the
// link's busy time and the release-order floor. It is pure: it decides from
// the profile, the time and the size, and touches no socket; its caller
// serialises calls.
type pipe struct {
	rng      *rand.Rand
	bad      bool      // Gilbert-Elliott state
	linkFree time.Time // when the rate-capped link is free again
	floor    time.Time // no datagram (except a reordered one) is released before this
}

func newPipe(seed, stream uint64) *pipe {
	return &pipe{rng: rand.New(rand.NewPCG(seed, stream))}
}

// decide applies profile p to a datagram of size bytes that arrives at now.
// The order of random draws is fixed, so the same seed and the same
// arrivals give the same verdicts.
func (q *pipe) decide(p Profile, now time.Time, size int) verdict {
	if g := p.Burst; g != nil {
		if q.bad {
			q.bad = q.rng.Float64() >= g.R
		} else {
			q.bad = q.rng.Float64() < g.P
		}
		lossP := g.LossGood
		if q.bad {
			lossP = g.LossBad
		}
		if lossP > 0 && q.rng.Float64() < lossP {
			return verdict{drop: DropBurst}
		}
	} else {
		q.bad = false
		if p.Loss > 0 && q.rng.Float64() < p.Loss {
			return verdict{drop: DropLoss}
		}
	}

	depart := now
	if p.RateBPS > 0 {
		start := now
		if q.linkFree.After(start) {
			start = q.linkFree
		}
		if p.QueueLimit > 0 && start.Sub(now) > p.QueueLimit {
			return verdict{drop: DropQueue}
		}
		tx := time.Duration(float64(size*8) / float64(p.RateBPS) * float64(time.Second))
		depart = start.Add(tx)
		q.linkFree = depart
	}

	d := p.Delay
	if p.Jitter > 0 {
		d += time.Duration((q.rng.Float64()*2 - 1) * float64(p.Jitter))
	}
	v := verdict{due: depart.Add(d)}
	if p.Reorder > 0 && q.rng.Float64() < p.Reorder {
		v.due = v.due.Add(p.ReorderGap)
	} else {
		if v.due.Before(q.floor) {
			v.due = q.floor
		}
		q.floor = v.due
	}
	if p.Duplicate > 0 && q.rng.Float64() < p.Duplicate {
		v.dup, v.dupDue = true, v.due
	}
	return v
}
