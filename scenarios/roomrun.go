package scenarios

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/room"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
	"github.com/gauntlet-rtc/gauntlet/reports"
)

// roomUser builds the socket layer of participant i of rooms population
// p: nothing to register, no SIP.
func (r *runner) roomUser(p Population, i int, addrs userAddrs, guard *socket.Guard) (*socket.Net, error) {
	opts, err := r.netOptions(p, i, addrs)
	if err != nil {
		return nil, err
	}
	return socket.New(append(opts, socket.WithGuard(guard), socket.WithLogger(r.log))...)
}

// probeRooms asks the rooms service for its health once, from the first
// participant of the first rooms population: up when it answered,
// ErrUnreachable when nothing did (nothing to probe: neither).
func (r *runner) probeRooms(ctx context.Context, pops *populations) (up bool, err error) {
	for _, p := range r.cfg.Scenario.Populations {
		users := pops.byName[p.Name]
		if !p.Rooms() || len(users) == 0 || users[0].net == nil || r.cfg.Target.Rooms == nil {
			continue
		}
		c, err := room.NewClient(r.cfg.Target.Rooms.URL, users[0].net)
		if err != nil {
			return false, err
		}
		pctx, cancel := context.WithTimeout(ctx, r.cfg.Scenario.Timeouts.Setup)
		_, err = c.Do(pctx, http.MethodGet, "/healthz", "")
		cancel()
		c.Close()
		if err != nil && ctx.Err() == nil {
			return false, fmt.Errorf("%w: rooms service %s: %w", ErrUnreachable, r.cfg.Target.Rooms.URL, err)
		}
		return err == nil, nil
	}
	return false, nil
}

// anyEndpoint reports whether some SIP user came up.
func (p *populations) anyEndpoint() bool {
	for _, users := range p.byName {
		for _, u := range users {
			if u.ep != nil {
				return true
			}
		}
	}
	return false
}

// room runs one planned room and returns one record per participant: the
// first participant creates the room, each joins in turn (the newcomer
// offers to those already there) once the one before is in and its
// planned join time has come, all wait for a leg with every other to
// carry media, each within the setup timeout of its own join time (see
// setUpRoom); the room is held, then they leave in the order the flow's
// hangup says, within the teardown timeout. From setup to leaving, the
// participants' legs are in the per-second series. When ctx ends early
// they leave at once and the records say what was measured until then.
func (r *runner) room(ctx context.Context, pc PlannedCall) []reports.Result {
	start := time.Now()
	pop, _ := r.cfg.Scenario.Population(pc.Caller.Population)
	users := make([]*user, len(pc.Participants))
	for i, e := range pc.Participants {
		users[i] = r.pops.byName[e.Population][e.Index]
	}
	release, err := acquireAll(ctx, users, pc.Participants)
	if err != nil {
		return notJoined(pc, start, "", 0, reports.CauseCanceled, err)
	}
	defer release()

	t := r.cfg.Scenario.Timeouts
	parts := make([]*room.Participant, 0, len(users))
	defer func() {
		for _, p := range parts {
			_ = p.Close()
		}
	}()
	for i, u := range users {
		if u.net == nil {
			return notJoined(pc, start, "", 0, reports.CauseSignaling, fmt.Errorf("participant %s: %w: %v", pc.Participants[i], errUserDown, u.err))
		}
		cfg, err := r.cfg.Target.RoomConfig(pop, u.net, r.clock)
		if err != nil {
			return notJoined(pc, start, "", 0, reports.CauseSignaling, err)
		}
		cfg.Logger, cfg.NegotiationTimeout = r.log.With("room", pc.ID), t.Setup
		p, err := room.New(cfg)
		if err != nil {
			return notJoined(pc, start, "", 0, reports.CauseSignaling, err)
		}
		parts = append(parts, p)
	}

	members := make([]roomMember, len(parts))
	for i, p := range parts {
		members[i] = p
	}
	r.live.addRoom(pc.ID, members)
	id, joined, waitErrs, setupErr := setUpRoom(ctx, parts, joinPlan{start: time.Now(), at: pc.JoinAt, setup: t.Setup})
	if setupErr == nil {
		timer := time.NewTimer(pc.Hold)
		select {
		case <-timer.C:
		case <-ctx.Done():
		}
		timer.Stop()
	}
	r.live.removeRoom(pc.ID)
	tctx, cancelTeardown := context.WithTimeout(context.WithoutCancel(ctx), t.Teardown)
	for _, i := range leaveOrder(len(parts), pc.Hangup) {
		if err := parts[i].Leave(tctx); err != nil {
			r.log.Debug("room: leave", "room", id, "participant", pc.Participants[i].String(), "error", err)
		}
	}
	cancelTeardown()

	if id == "" {
		return notJoined(pc, start, "", 0, roomCause(setupErr), setupErr)
	}
	reps := make([]room.Report, len(parts))
	for i, p := range parts {
		reps[i] = p.Report()
	}
	out := room.Results(len(parts), reps...)
	for i := range out {
		res := &out[i]
		res.Population = pop.Name
		res.Room.ID = id
		switch {
		case i > joined:
			// Never tried to join: an earlier participant could not.
			*res = notJoined(pc, start, id, i, roomCause(setupErr), fmt.Errorf("did not join: %w", setupErr))[0]
			continue
		case res.Room.Participant == "":
			res.ID, res.From = id+"/"+pc.Participants[i].String(), pc.Participants[i].String()
		}
		if err := waitErrs[i]; err != nil && res.Outcome != reports.OutcomeOK &&
			(res.Cause == reports.CauseMedia || res.Cause == reports.CauseSignaling) && ctxErr(err) {
			res.Cause, res.Error = roomCause(err), err.Error()
		}
		if ctx.Err() != nil && res.Outcome != reports.OutcomeOK && res.Cause != reports.CauseMedia {
			res.Cause = reports.CauseCanceled
		}
		if want, ok := roomExpectation(pop); ok {
			res.ICE.NAT, res.ICE.PeerNAT, res.ICE.Expected = want.NAT, want.PeerNAT, want.Expected
		}
	}
	return out
}

// joinPlan is when a room's participants join: at their offsets from
// start (none: all due at start, each joining as soon as the one before
// is in), each with setup to be in and have its legs up.
type joinPlan struct {
	start time.Time
	at    []time.Duration
	setup time.Duration
}

// due is when participant i's join is due.
func (j joinPlan) due(i int) time.Time {
	if i < len(j.at) {
		return j.start.Add(j.at[i])
	}
	return j.start
}

// deadline is when participant i's setup must be done: setup after its
// join was due, however long the room took to get there.
func (j joinPlan) deadline(i int) time.Time { return j.due(i).Add(j.setup) }

// setUpRoom creates the room with the first participant and lets each
// join in turn, when its join is due and the one before is in, then
// waits for every participant's legs with all the others. Creating and
// each join must end by the joining participant's deadline (setup from
// when its join was due, so a join spread never eats it), and the wait
// for the legs by the last participant's deadline: a participant's last
// legs are with the last to join, whose setup they are part of (each
// leg's own negotiation is bounded by setup too, in the room agent).
// Back to back (no offsets) every deadline is setup after the start, as
// one timeout for the whole room. joined is the index of the last
// participant that tried to join; waitErrs holds each participant's wait
// for its legs.
func setUpRoom(ctx context.Context, parts []*room.Participant, plan joinPlan) (id string, joined int, waitErrs []error, err error) {
	waitErrs = make([]error, len(parts))
	cctx, cancel := context.WithDeadline(ctx, plan.deadline(0))
	id, err = parts[0].Create(cctx)
	cancel()
	if err != nil {
		return "", 0, waitErrs, fmt.Errorf("creating the room: %w", err)
	}
	for i, p := range parts {
		if err := waitUntil(ctx, plan.due(i)); err != nil {
			return id, i - 1, waitErrs, fmt.Errorf("participant %d waiting for its join time: %w", i+1, err)
		}
		joined = i
		jctx, cancel := context.WithDeadline(ctx, plan.deadline(i))
		err := p.Join(jctx, id)
		cancel()
		if err != nil {
			return id, i, waitErrs, fmt.Errorf("participant %d joining: %w", i+1, err)
		}
	}
	wctx, cancel := context.WithDeadline(ctx, plan.deadline(len(parts)-1))
	defer cancel()
	for i, p := range parts {
		waitErrs[i] = p.WaitPeers(wctx, len(parts)-1)
		if waitErrs[i] != nil && err == nil {
			err = waitErrs[i]
		}
	}
	return id, joined, waitErrs, err
}

// waitUntil returns at t, or with ctx's error when ctx ends first; at
// once when t has passed.
func waitUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// leaveOrder is who leaves when: hangup caller, the creator first and
// then the others in the order they joined; callee, the others first and
// the creator last.
func leaveOrder(n int, h Hangup) []int {
	order := make([]int, 0, n)
	for i := 1; i < n; i++ {
		order = append(order, i)
	}
	if h == HangupCallee {
		return append(order, 0)
	}
	return append([]int{0}, order...)
}

// acquireAll leases every participant of a room, in user order so that
// rooms sharing users never wait on each other in a cycle.
func acquireAll(ctx context.Context, users []*user, who []Endpoint) (release func(), err error) {
	order := make([]int, len(users))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return who[a].Index - who[b].Index })
	var held []*user
	release = func() {
		for _, u := range held {
			u.release()
		}
	}
	for _, i := range order {
		if slices.Contains(held, users[i]) {
			continue
		}
		if err := users[i].acquire(ctx); err != nil {
			release()
			return nil, err
		}
		held = append(held, users[i])
	}
	return release, nil
}

// notJoined is the records of a room's participants from the first, all
// failed with cause: the room could not be had (room is "" when it was
// never created: the planned unit's ID stands in).
func notJoined(pc PlannedCall, start time.Time, roomID string, first int, cause string, err error) []reports.Result {
	if roomID == "" {
		roomID = pc.ID
	}
	end := time.Now()
	out := make([]reports.Result, 0, len(pc.Participants)-first)
	for _, e := range pc.Participants[first:] {
		out = append(out, reports.Result{
			Kind: reports.KindRoom, ID: roomID + "/" + e.String(), Population: e.Population, From: e.String(),
			Start: start, End: end, Outcome: reports.OutcomeFailed, Cause: cause, Error: err.Error(),
			Room: &reports.Room{ID: roomID, Size: len(pc.Participants)},
		})
	}
	return out
}

// roomCause maps a room's setup error to a record's cause.
func roomCause(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return reports.CauseCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return reports.CauseTimeout
	case errors.Is(err, room.ErrUnreachable):
		return reports.CauseUnreachable
	}
	return reports.CauseSignaling
}

func ctxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// countRoom folds a finished room into the live progress: a unit like a
// call (failed when a participant failed, connected and relayed when every
// participant is, its MOS the lowest), and its participants.
func (r *runner) countRoom(results []reports.Result) {
	r.update(func(p *Progress) {
		p.Active--
		p.Completed++
		p.Rooms++
		failed, connected, relayed := false, len(results) > 0, len(results) > 0
		mos, haveMOS := 0.0, false
		for _, res := range results {
			p.Participants++
			if res.Outcome != reports.OutcomeOK {
				failed = true
				p.ParticipantsFailed++
			}
			connected = connected && res.ICE.Connected
			relayed = relayed && res.ICE.Relay
			if res.Room != nil {
				p.Leaks += len(res.Room.Leaks)
			}
			if m, ok := callMOS(res); ok && (!haveMOS || m < mos) {
				mos, haveMOS = m, true
			}
		}
		if failed {
			p.Failed++
		}
		if connected {
			p.Connected++
		}
		if relayed {
			p.Relayed++
		}
		if haveMOS {
			p.MOSSum += mos
			p.MOSCount++
		}
	})
}
