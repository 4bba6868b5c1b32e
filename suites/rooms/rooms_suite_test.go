// Package rooms_test is the conformance suite for browser-to-browser rooms
// services (the anonymous-voice model, docs/rooms.md): room tokens,
// uniform answers for missing rooms, rate limits, candidate filtering and
// relayed two-party and mesh rooms. Every spec about a defence runs
// against the hardened reference and against the reference with the
// matching defence weakened, and must tell the two apart.
//
//	go test ./suites/rooms
//	ginkgo --label-filter=tokens ./suites/rooms
package rooms_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/room"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
	"github.com/gauntlet-rtc/gauntlet/reference"
	"github.com/gauntlet-rtc/gauntlet/reference/rooms"
	"github.com/gauntlet-rtc/gauntlet/reference/turn"
	"github.com/gauntlet-rtc/gauntlet/suites/fixture"
)

func TestRooms(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Rooms conformance")
}

var (
	sources = socket.NewSources()
	clock   *media.Clock
	// skew is added to the hardened reference's rooms clock (expiry specs).
	skew     atomic.Int64
	hardened *deployment
)

var _ = BeforeSuite(func(ctx SpecContext) {
	c, err := media.NewClock()
	Expect(err).NotTo(HaveOccurred())
	clock = c
	// Started, not run in a goroutine of its own: the shards exist before
	// any spec takes its goroutine baseline for a leak check.
	stop, err := c.Start(context.Background())
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(stop)
	hardened = start(ctx)
}, NodeTimeout(30*time.Second))

// deployment is a reference (rooms, TURN, gateway) started for the suite.
type deployment struct {
	f   *fixture.Fixture
	url string
	srv *rooms.Server
}

// start brings up the reference with the rooms service weakened as named;
// the hardened one (no weaken) runs on the skewable clock.
func start(ctx context.Context, weaken ...string) *deployment {
	cfg := reference.DefaultConfig()
	tc := turn.DefaultTestConfig()
	cfg.TURN = &tc
	rc := rooms.DefaultConfig()
	rc.Weaken = weaken
	if len(weaken) == 0 {
		rc.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	}
	cfg.Rooms = &rc
	f, err := fixture.StartReference(ctx, cfg)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(f.Close)
	Expect(f.Target.Rooms).NotTo(BeNil(), "the reference's target file has no rooms section")
	return &deployment{f: f, url: f.Target.Rooms.URL, srv: f.Reference().Rooms()}
}

// weakened starts a reference with one rooms defence off, for one spec.
func weakened(ctx context.Context, weaken string) *deployment {
	if weaken == "" {
		return hardened
	}
	return start(ctx, weaken)
}

// net is a fresh socket layer on its own loopback source address, behind
// the target's guard.
func (d *deployment) net(ctx context.Context) *socket.Net {
	src, err := sources.Next()
	Expect(err).NotTo(HaveOccurred())
	g, err := d.f.Target.Guard(ctx)
	Expect(err).NotTo(HaveOccurred())
	n, err := socket.New(socket.WithSourceIP(src), socket.WithGuard(g))
	Expect(err).NotTo(HaveOccurred())
	return n
}

// client is a rooms API client on its own source address.
func (d *deployment) client(ctx context.Context) *room.Client {
	c, err := room.NewClient(d.url, d.net(ctx))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(c.Close)
	return c
}

// participant is a room agent on its own source address.
func (d *deployment) participant(ctx context.Context, offerAll bool) *room.Participant {
	p, err := room.New(room.Config{URL: d.url, Net: d.net(ctx), Clock: clock, OfferAll: offerAll})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(p.Close)
	return p
}

// within bounds a spec's network work.
func within(ctx context.Context, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(ctx, d)
	DeferCleanup(cancel)
	return c
}
