// Package impair is Gauntlet's user-space network impairment layer: a
// net.PacketConn wrapper for the socket layer's WithPacketWrapper seam that
// drops (random or Gilbert-Elliott burst loss), delays, jitters, reorders,
// duplicates and rate-limits datagrams, separately in each direction, with a
// profile that can change on a schedule during a call ("at 30 s, 10% loss
// for 5 s"). Its randomness is seeded, so a run can be repeated.
//
// It can keep a per-packet ground-truth log (what was dropped, when each
// datagram was released) so that tests can check the harness's figures
// against what really happened on the wire. The harness's own figures never
// read that log: they come from what the receiving agent saw.
//
// Delayed datagrams wait in the conn: outgoing ones on a scheduler
// goroutine the conn starts when it first needs it and stops on Close;
// incoming ones inside ReadFrom, which releases them when they fall due.
package impair

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrProfile is wrapped by every validation error.
var ErrProfile = errors.New("impair: bad profile")

// Profile is what happens to datagrams in one direction. The zero Profile
// passes everything through untouched.
type Profile struct {
	// Loss is the probability that a datagram is dropped at random, 0 to 1.
	Loss float64
	// Burst drops datagrams with a Gilbert-Elliott model instead of Loss
	// (setting both is an error).
	Burst *GilbertElliott
	// Delay is added to every datagram.
	Delay time.Duration
	// Jitter varies each datagram's delay uniformly within Delay±Jitter; it
	// must not exceed Delay. Jitter alone does not reorder: a datagram is
	// never released before one that came before it (as on a link whose
	// delay varies with its queue), unless Reorder picks it.
	Jitter time.Duration
	// Reorder is the probability that a datagram is held back ReorderGap
	// longer than its delay, so that the ones after it overtake it.
	Reorder    float64
	ReorderGap time.Duration
	// Duplicate is the probability that a datagram is delivered twice.
	Duplicate float64
	// RateBPS caps the bandwidth in bits per second of UDP payload; 0 means
	// no cap. Datagrams queue for the link before their delay starts.
	RateBPS int64
	// QueueLimit, with RateBPS, drops a datagram that would wait longer than
	// this for the link; 0 means the queue has no limit.
	QueueLimit time.Duration
}

// IsZero reports whether p passes everything through untouched.
func (p Profile) IsZero() bool { return p == Profile{} }

// Validate rejects a profile that has no meaning; it never clamps.
func (p Profile) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"loss", p.Loss}, {"reorder", p.Reorder}, {"duplicate", p.Duplicate}} {
		if math.IsNaN(f.v) || f.v < 0 || f.v > 1 {
			return fmt.Errorf("%w: %s %v is not a probability (0 to 1)", ErrProfile, f.name, f.v)
		}
	}
	switch {
	case p.Burst != nil && p.Loss > 0:
		return fmt.Errorf("%w: loss and burst loss are exclusive", ErrProfile)
	case p.Delay < 0:
		return fmt.Errorf("%w: delay %v is negative", ErrProfile, p.Delay)
	case p.Jitter < 0 || p.Jitter > p.Delay:
		return fmt.Errorf("%w: jitter %v must be between 0 and the delay (%v)", ErrProfile, p.Jitter, p.Delay)
	case p.Reorder > 0 && p.ReorderGap <= 0:
		return fmt.Errorf("%w: reorder %v needs a positive reorder gap", ErrProfile, p.Reorder)
	case p.ReorderGap < 0:
		return fmt.Errorf("%w: reorder gap %v is negative", ErrProfile, p.ReorderGap)
	case p.RateBPS < 0:
		return fmt.Errorf("%w: rate %d bit/s is negative", ErrProfile, p.RateBPS)
	case p.QueueLimit < 0:
		return fmt.Errorf("%w: queue limit %v is negative", ErrProfile, p.QueueLimit)
	case p.QueueLimit > 0 && p.RateBPS == 0:
		return fmt.Errorf("%w: a queue limit needs a rate", ErrProfile)
	}
	if p.Burst != nil {
		return p.Burst.Validate()
	}
	return nil
}

// GilbertElliott is the two-state burst-loss model: each datagram first
// moves the chain (Good to Bad with probability P, Bad to Good with
// probability R), then is lost with the new state's loss probability.
type GilbertElliott struct {
	P        float64 // Good -> Bad, per datagram
	R        float64 // Bad -> Good, per datagram
	LossGood float64 // loss probability in Good (1-k), usually 0
	LossBad  float64 // loss probability in Bad (1-h), usually 1
}

// BurstLoss returns the simple Gilbert model (no loss in Good, all lost in
// Bad) with the given long-run loss probability and mean burst length in
// datagrams: R = 1/meanBurst, P = loss*R/(1-loss).
func BurstLoss(loss, meanBurst float64) (GilbertElliott, error) {
	switch {
	case math.IsNaN(loss) || loss <= 0 || loss >= 1:
		return GilbertElliott{}, fmt.Errorf("%w: burst loss %v must be above 0 and below 1", ErrProfile, loss)
	case math.IsNaN(meanBurst) || meanBurst < 1:
		return GilbertElliott{}, fmt.Errorf("%w: mean burst length %v must be at least 1", ErrProfile, meanBurst)
	}
	r := 1 / meanBurst
	g := GilbertElliott{P: loss * r / (1 - loss), R: r, LossBad: 1}
	return g, g.Validate()
}

// Validate checks that every field is a probability and the chain can
// leave Bad.
func (g GilbertElliott) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"p", g.P}, {"r", g.R}, {"loss in good", g.LossGood}, {"loss in bad", g.LossBad}} {
		if math.IsNaN(f.v) || f.v < 0 || f.v > 1 {
			return fmt.Errorf("%w: burst %s %v is not a probability (0 to 1)", ErrProfile, f.name, f.v)
		}
	}
	if g.R == 0 && g.P > 0 {
		return fmt.Errorf("%w: burst r 0 never leaves the bad state", ErrProfile)
	}
	return nil
}

// LossRate is the model's long-run loss probability.
func (g GilbertElliott) LossRate() float64 {
	if g.P+g.R == 0 {
		return g.LossGood
	}
	bad := g.P / (g.P + g.R)
	return (1-bad)*g.LossGood + bad*g.LossBad
}

// BurstRatio is ITU-T G.113's BurstR for the simple Gilbert model,
// 1/(P+R): the mean observed burst length over the mean burst length of
// random loss at the same rate. 1 means random loss.
func (g GilbertElliott) BurstRatio() float64 {
	if g.P+g.R == 0 {
		return 1
	}
	return 1 / (g.P + g.R)
}

// Schedule is a direction's profile over time: Base, replaced by each step
// while it lasts. Times are from the impairer's origin.
type Schedule struct {
	Base  Profile
	Steps []Step
}

// Step replaces the base profile from At for For (0: for ever). While
// steps overlap, the one that started last applies; when it ends, the
// earlier one applies again if it still lasts.
type Step struct {
	At      time.Duration
	For     time.Duration
	Profile Profile
}

// IsZero reports whether the schedule never impairs anything.
func (s Schedule) IsZero() bool {
	if !s.Base.IsZero() {
		return false
	}
	for _, st := range s.Steps {
		if !st.Profile.IsZero() {
			return false
		}
	}
	return true
}

// Validate checks every profile and that steps are in time order.
func (s Schedule) Validate() error {
	if err := s.Base.Validate(); err != nil {
		return fmt.Errorf("base: %w", err)
	}
	for i, st := range s.Steps {
		switch {
		case st.At < 0 || st.For < 0:
			return fmt.Errorf("%w: step %d: negative time (at %v for %v)", ErrProfile, i, st.At, st.For)
		case i > 0 && st.At < s.Steps[i-1].At:
			return fmt.Errorf("%w: step %d at %v starts before step %d at %v", ErrProfile, i, st.At, i-1, s.Steps[i-1].At)
		}
		if err := st.Profile.Validate(); err != nil {
			return fmt.Errorf("step %d: %w", i, err)
		}
	}
	return nil
}

// At returns the profile that applies at elapsed time from the origin.
func (s Schedule) At(elapsed time.Duration) Profile {
	for i := len(s.Steps) - 1; i >= 0; i-- {
		st := s.Steps[i]
		if elapsed < st.At {
			continue
		}
		if st.For == 0 || elapsed < st.At+st.For {
			return st.Profile
		}
	}
	return s.Base
}
