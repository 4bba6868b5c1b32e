package attack

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/room"
)

// Bounds of room-enumeration: it never sends more than this.
const (
	enumSamples      = 24              // rooms created to sample IDs
	enumMaxProbes    = 300             // join probes from one source, at most
	enumProbeWindow  = 4 * time.Second // and for at most this long
	enumSustainWin   = 1500 * time.Millisecond
	enumSustainPace  = 40 * time.Millisecond // probes after the throttle, one per
	enumTimingProbes = 8                     // per kind, per source, for the timing comparison
	// enumLiveRooms is the live room count the expected time assumes.
	enumLiveRooms = 1e6
	// enumSources is the attacker's source addresses the expected time
	// also assumes (a botnet, a cloud account).
	enumSources = 1e4
	// enumTimingLimit is the difference of median refusal times taken
	// as a timing oracle.
	enumTimingLimit = 5 * time.Millisecond
)

// RoomEnumeration probes how guessable live rooms are: the entropy of the
// room IDs the service hands out, how fast one source may probe before it
// is throttled, whether a missing room, a malformed ID and a bad token get
// one answer (status, size, timing), whether a probe creates the room, and
// the expected time to find a live room at the measured rate.
func RoomEnumeration(ctx context.Context, env *Env) Outcome {
	log := env.Logger().With("attack", "room-enumeration")
	var ev []string
	var weak []roomWeakness

	// 1. Entropy of the IDs the service hands out.
	ids, err := sampleRoomIDs(ctx, env)
	if len(ids) < 8 {
		return Inconclusivef("could create only %d rooms to sample their IDs: %v", len(ids), err)
	}
	ent := EstimateIDEntropy(ids)
	ev = append(ev, fmt.Sprintf("room IDs: ~%.0f bits (%s); samples %s, %s, %s", ent.Bits, ent.How, ids[0], ids[1], ids[2]))
	if ent.Bits < 128 {
		weak = append(weak, roomWeakness{High, fmt.Sprintf("room IDs carry ~%.0f bits, below the 128 a CSPRNG-made ID has", ent.Bits)})
	}

	// 2. Probe rate until throttled, from one source.
	pr, err := probeRate(ctx, env, ent)
	if err != nil {
		return Inconclusivef("probing: %v", err)
	}
	ev = append(ev, pr.evidence()...)
	if !pr.throttled {
		weak = append(weak, roomWeakness{Medium, fmt.Sprintf("%d join probes from one source in %.1f s, none throttled", pr.probes, pr.elapsed.Seconds())})
	} else if pr.retryAfter == "" {
		weak = append(weak, roomWeakness{Low, "the throttling 429 has no Retry-After"})
	}
	if pr.created > 0 {
		weak = append(weak, roomWeakness{High, fmt.Sprintf("%d join probes of rooms nobody created were answered 2xx (the probe created the room)", pr.created)})
	}

	// 3. Uniform answers: status and size, then timing.
	un, err := uniformity(ctx, env, ids[0], ent)
	if err != nil {
		return Inconclusivef("comparing answers: %v", err)
	}
	ev = append(ev, un.evidence()...)
	if !un.sameStatusAndSize() {
		weak = append(weak, roomWeakness{Medium, "a missing room, a malformed ID and a bad token are told apart by status or size"})
	}
	if un.timingGap() > enumTimingLimit {
		weak = append(weak, roomWeakness{Medium, fmt.Sprintf("a missing room is refused %.2f ms apart from a bad token for a live room", roomMS(un.timingGap()))})
	}
	if un.created {
		weak = append(weak, roomWeakness{High, "a probed room exists afterwards (a probe creates rooms)"})
	}

	// 4. Expected time to find a live room at the measured rate.
	rate := pr.sustained
	t1 := ExpectedTimeToHit(ent.Bits, enumLiveRooms, rate)
	tn := ExpectedTimeToHit(ent.Bits, enumLiveRooms, rate*enumSources)
	ev = append(ev, fmt.Sprintf("expected time to hit one of %.0g live rooms: %s from one source at %.1f probes/s, %s from %.0g sources",
		enumLiveRooms, roomHumanSeconds(t1), rate, roomHumanSeconds(tn), enumSources))
	log.Debug("room-enumeration done", "bits", ent.Bits, "rate", rate, "weaknesses", len(weak))

	if len(weak) == 0 {
		return Outcome{Verdict: Resisted, Reason: "random 128-bit room IDs, probes throttled, one answer for every unusable room", Evidence: ev}
	}
	sev := Low
	var reasons []string
	for _, w := range weak {
		sev = roomWorse(sev, w.severity)
		reasons = append(reasons, w.what)
	}
	return Outcome{
		Verdict: Vulnerable, Severity: sev, Reason: reasons[0], Evidence: append(reasons[1:], ev...),
		Remediation: "make room IDs 128+ bits from a CSPRNG; rate-limit joins and token and credential requests per source (429 + Retry-After); " +
			"answer a missing room, a malformed ID and a bad token with one status and body, after the same work; never create a room on join",
	}
}

type roomWeakness struct{ severity, what string }

func roomWorse(a, b string) string {
	rank := map[string]int{Info: 0, Low: 1, Medium: 2, High: 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

func roomMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// sampleRoomIDs creates rooms from a few sources (each within the create
// limit of a hardened service) and returns their IDs.
func sampleRoomIDs(ctx context.Context, env *Env) ([]string, error) {
	var ids []string
	var lastErr error
	for src := 0; src < 6 && len(ids) < enumSamples; src++ {
		c, _, err := roomsClient(env)
		if err != nil {
			return ids, err
		}
		for len(ids) < enumSamples {
			id, err := c.Create(ctx)
			if err != nil {
				lastErr = err
				break // a 429: the next source
			}
			ids = append(ids, id)
		}
		c.Close()
		if lastErr != nil && !errors.Is(lastErr, room.ErrRateLimited) {
			break
		}
	}
	return ids, lastErr
}

// probeResult is what one source's flood of join probes met.
type probeResult struct {
	probes, accepted, created int
	throttled                 bool
	firstLimited              int
	retryAfter                string
	elapsed                   time.Duration
	sustained                 float64 // probes per second that got an answer other than 429
	statuses                  map[int]int
}

func (p probeResult) evidence() []string {
	var out []string
	if p.throttled {
		out = append(out, fmt.Sprintf("throttled after %d join probes from one source (429, Retry-After %q); %.1f probes/s got through after that",
			p.firstLimited, p.retryAfter, p.sustained))
	} else {
		out = append(out, fmt.Sprintf("%d join probes from one source in %.1f s, none throttled (%.0f probes/s)", p.probes, p.elapsed.Seconds(), p.sustained))
	}
	return append(out, fmt.Sprintf("probe answers by status: %v", p.statuses))
}

// probeRate floods join probes of random IDs shaped like the service's
// from one source until throttled (then measures what still gets through
// for a moment), within enumMaxProbes and enumProbeWindow.
func probeRate(ctx context.Context, env *Env, ent IDEntropy) (probeResult, error) {
	c, _, err := roomsClient(env)
	if err != nil {
		return probeResult{}, err
	}
	defer c.Close()
	r := probeResult{statuses: map[int]int{}, firstLimited: -1}
	start := time.Now()
	var limitedAt time.Time
	passedAfter := 0
	pace := time.NewTicker(enumSustainPace)
	defer pace.Stop()
	for r.probes < enumMaxProbes && time.Since(start) < enumProbeWindow {
		if !limitedAt.IsZero() {
			// Throttled: probe at a steady pace for a moment to measure
			// what a patient prober still gets through.
			if time.Since(limitedAt) > enumSustainWin {
				break
			}
			select {
			case <-ctx.Done():
				return r, ctx.Err()
			case <-pace.C:
			}
		}
		resp, err := c.Do(ctx, http.MethodPost, "/v1/rooms/"+randomRoomLike(ent, rand.IntN)+"/join", "")
		if err != nil {
			return r, err
		}
		r.probes++
		r.statuses[resp.Status]++
		switch {
		case resp.Status == http.StatusTooManyRequests:
			if limitedAt.IsZero() {
				limitedAt, r.throttled, r.firstLimited, r.retryAfter = time.Now(), true, r.probes-1, resp.RetryAfter
			}
		default:
			r.accepted++
			if !limitedAt.IsZero() {
				passedAfter++
			}
			if resp.Status >= 200 && resp.Status < 300 {
				r.created++
			}
		}
	}
	r.elapsed = time.Since(start)
	if r.throttled {
		r.sustained = float64(passedAfter) / max(time.Since(limitedAt).Seconds(), 0.001)
	} else {
		r.sustained = float64(r.accepted) / max(r.elapsed.Seconds(), 0.001)
	}
	return r, nil
}

// roomAnswer is one refusal as a prober sees it.
type roomAnswer struct {
	what   string
	status int
	size   int
}

type uniformityResult struct {
	answers      []roomAnswer
	missingTimes []time.Duration // credentials for a missing room
	badTimes     []time.Duration // credentials with a bad token for a live room
	created      bool
}

func (u uniformityResult) sameStatusAndSize() bool {
	for _, a := range u.answers {
		if a.status != u.answers[0].status || a.size != u.answers[0].size {
			return false
		}
	}
	return true
}

func roomMedian(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func (u uniformityResult) timingGap() time.Duration {
	g := roomMedian(u.missingTimes) - roomMedian(u.badTimes)
	if g < 0 {
		g = -g
	}
	return g
}

func (u uniformityResult) evidence() []string {
	var out []string
	for _, a := range u.answers {
		out = append(out, fmt.Sprintf("%s: HTTP %d, %d bytes", a.what, a.status, a.size))
	}
	out = append(out, fmt.Sprintf("median refusal: missing room %.3f ms, bad token for a live room %.3f ms (%d probes each)",
		roomMS(roomMedian(u.missingTimes)), roomMS(roomMedian(u.badTimes)), len(u.missingTimes)))
	if u.created {
		out = append(out, "a room named only by a probe was there afterwards")
	} else {
		out = append(out, "no probed room was there afterwards")
	}
	return out
}

// uniformity compares the answers to every kind of unusable room, then
// the time a missing room and a bad token take to refuse, each kind from
// fresh sources so that no rate limit interferes.
func uniformity(ctx context.Context, env *Env, live string, ent IDEntropy) (uniformityResult, error) {
	var u uniformityResult
	c, n, err := roomsClient(env)
	if err != nil {
		return u, err
	}
	defer c.Close()
	probed := randomRoomLike(ent, rand.IntN)
	do := func(what, method, path, token string) (room.Response, error) {
		r, err := c.Do(ctx, method, path, token)
		if err == nil {
			u.answers = append(u.answers, roomAnswer{what, r.Status, len(r.Body)})
		}
		return r, err
	}
	steps := []struct{ what, path, token string }{
		{"join of a missing room", "/v1/rooms/" + probed + "/join", ""},
		{"join of a malformed room ID", "/v1/rooms/" + "not-a-room" + "/join", ""},
		{"credentials with a bad token for a live room", "/v1/rooms/" + live + "/turn", "e30.e30.AAAA"},
		{"credentials for a missing room", "/v1/rooms/" + randomRoomLike(ent, rand.IntN) + "/turn", "e30.e30.AAAA"},
	}
	for _, s := range steps {
		if _, err := do(s.what, http.MethodPost, s.path, s.token); err != nil {
			return u, err
		}
	}
	// The WebSocket of a missing room, as a browser would open it.
	sig, err := room.DialSignal(ctx, n, c.WSURL(randomRoomLike(ent, rand.IntN), ""), "e30.e30.AAAA")
	var se *room.StatusError
	switch {
	case err == nil:
		_ = sig.Close()
		u.answers = append(u.answers, roomAnswer{"WebSocket of a missing room", http.StatusSwitchingProtocols, 0})
	case errors.As(err, &se):
		u.answers = append(u.answers, roomAnswer{"WebSocket of a missing room", se.Status, len(se.Body)})
	default:
		return u, err
	}
	// Was the probed room created?
	again, err := c.Do(ctx, http.MethodPost, "/v1/rooms/"+probed+"/join", "")
	if err != nil {
		return u, err
	}
	u.created = again.Status >= 200 && again.Status < 300
	// Timing, alternating, from fresh sources.
	for range 2 {
		tc, _, err := roomsClient(env)
		if err != nil {
			return u, err
		}
		for range enumTimingProbes {
			for _, target := range []string{randomRoomLike(ent, rand.IntN), live} {
				r, err := tc.Do(ctx, http.MethodPost, "/v1/rooms/"+target+"/turn", "e30.e30.AAAA")
				if err != nil {
					tc.Close()
					return u, err
				}
				if r.Status == http.StatusTooManyRequests {
					continue
				}
				if target == live {
					u.badTimes = append(u.badTimes, r.Elapsed)
				} else {
					u.missingTimes = append(u.missingTimes, r.Elapsed)
				}
			}
		}
		tc.Close()
	}
	return u, nil
}
