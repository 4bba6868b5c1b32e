package rooms_test

import (
	"context"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/room"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
	"github.com/gauntlet-rtc/gauntlet/reference/rooms"
	"github.com/gauntlet-rtc/gauntlet/reference/turn"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// service starts a TURN relay and a rooms service on it.
func service(t *testing.T, tweak func(*rooms.Config)) *rooms.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tc := turn.DefaultTestConfig()
	tc.TCP, tc.TLS, tc.UDP = nil, nil, []string{"127.0.0.1:0"}
	relay, err := turn.New(tc)
	if err != nil {
		t.Fatal(err)
	}
	if err := relay.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = relay.Close() })
	rc := rooms.DefaultConfig()
	rc.TURNURLs, rc.TURNSecret = relay.URLs(), tc.Secrets[0]
	if tweak != nil {
		tweak(&rc)
	}
	srv, err := rooms.New(rc)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	return srv
}

// party is a room agent on its own source address.
type party struct {
	sources *socket.Sources
	clock   *media.Clock
	url     string
}

func newParty(t *testing.T, url string) *party {
	t.Helper()
	clock, err := media.NewClock(media.WithShards(1))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = clock.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &party{sources: socket.NewSources(), clock: clock, url: url}
}

func (p *party) agent(t *testing.T, offerAll bool) *room.Participant {
	t.Helper()
	src, err := p.sources.Next()
	if err != nil {
		t.Fatal(err)
	}
	n, err := socket.New(socket.WithSourceIP(src))
	if err != nil {
		t.Fatal(err)
	}
	a, err := room.New(room.Config{URL: p.url, Net: n, Clock: p.clock, OfferAll: offerAll})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// call runs a two-party room for hold and returns both records.
func call(t *testing.T, srv *rooms.Server, offerAll bool, hold time.Duration) []reports.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p := newParty(t, srv.URL())
	a, b := p.agent(t, offerAll), p.agent(t, offerAll)
	id, err := a.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Join(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := b.Join(ctx, id); err != nil {
		t.Fatal(err)
	}
	for _, x := range []*room.Participant{a, b} {
		if err := x.WaitPeers(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(hold) // the call's length: media flows meanwhile
	for _, x := range []*room.Participant{b, a} {
		if err := x.Leave(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return room.Results(2, a.Report(), b.Report())
}

func TestTwoPartyRoomRelayedWithoutLeaks(t *testing.T) {
	srv := service(t, nil)
	for _, r := range call(t, srv, true, time.Second) {
		if r.Outcome != reports.OutcomeOK {
			t.Fatalf("%s: %s %s", r.ID, r.Cause, r.Error)
		}
		if !r.ICE.Relay || len(r.Media) != 1 || !r.Media[0].Audio {
			t.Errorf("%s: relay %v, media %+v", r.ID, r.ICE.Relay, r.Media)
		}
		if len(r.Room.Leaks) != 0 {
			t.Errorf("%s: leaks through the hardened filter: %+v", r.ID, r.Room.Leaks)
		}
		if r.Room.Inspected < 2 {
			t.Errorf("%s: %d messages inspected", r.ID, r.Room.Inspected)
		}
	}
	if n := srv.Rooms(); n != 0 {
		t.Errorf("%d rooms left after everyone left", n)
	}
}

func TestWeakenedFilterLeaks(t *testing.T) {
	srv := service(t, func(c *rooms.Config) { c.Weaken = []string{rooms.WeakenCandidateFilter} })
	kinds := map[string]bool{}
	for _, r := range call(t, srv, true, 200*time.Millisecond) {
		for _, k := range room.LeakKindsOf(r.Room.Leaks) {
			kinds[k] = true
		}
	}
	for _, k := range []string{room.LeakHost, room.LeakSrflx, room.LeakRaddr, room.LeakConnection} {
		if !kinds[k] {
			t.Errorf("no %s leak found through the weakened filter (found %v)", k, kinds)
		}
	}
}
