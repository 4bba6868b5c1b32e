package rooms_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.uber.org/goleak"

	"github.com/gauntlet-rtc/gauntlet/agents/room"
	"github.com/gauntlet-rtc/gauntlet/reference"
	"github.com/gauntlet-rtc/gauntlet/reference/rooms"
	"github.com/gauntlet-rtc/gauntlet/reference/turn"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/gauntlet-rtc/gauntlet/scenarios"
	"github.com/gauntlet-rtc/gauntlet/suites/fixture"
)

// roomsScenario is scenarios/rooms-100.yaml at a smaller scale: n
// two-party rooms up at once, with the participants' ICE policy given.
func roomsScenario(n int, policy string) *scenarios.Scenario {
	GinkgoHelper()
	s, err := scenarios.Parse("rooms-spec.yaml", fmt.Appendf(nil, `name: rooms-%d
populations:
  - {name: peers, kind: webrtc, count: %d, signaling: rooms, ice_policy: %s}
flows:
  - {name: two-party, from: peers, to: peers, room_size: 2, hold: 2s}
load: {calls: %d, concurrency: %d, rate: 20/s, max_duration: 1m}
timeouts: {setup: 15s}
thresholds:
  - rooms.ice.relay_ratio == 1
  - rooms.ice.success_rate >= 0.995
  - rooms.mos.p50 >= 4.3
  - rooms.leaks == 0
`, n, 2*n, policy, n, n))
	Expect(err).NotTo(HaveOccurred())
	return s
}

// ownReference starts a reference of its own for one spec (fresh
// rate-limit buckets: the suite's other specs flood from the same
// loopback addresses the runner hands out), with the rooms service
// weakened as named. closeRef closes it (once; DeferCleanup does
// otherwise) and then finds any goroutine the spec started and left.
func ownReference(ctx context.Context, weaken ...string) (f *fixture.Fixture, closeRef func()) {
	GinkgoHelper()
	before := goleak.IgnoreCurrent()
	cfg := reference.DefaultConfig()
	tc := turn.DefaultTestConfig()
	rc := rooms.DefaultConfig()
	rc.Weaken = weaken
	cfg.TURN, cfg.Rooms = &tc, &rc
	f, err := fixture.StartReference(ctx, cfg)
	Expect(err).NotTo(HaveOccurred())
	var once sync.Once
	closeOnly := func() { once.Do(func() { Expect(f.Close()).To(Succeed()) }) }
	DeferCleanup(closeOnly)
	return f, func() {
		GinkgoHelper()
		closeOnly()
		Expect(goleak.Find(before)).To(Succeed(), "goroutines left after the run and the reference closed")
	}
}

// run runs s through scenarios.Run against f's target and returns the
// summary, the run's info and its last progress.
func run(ctx context.Context, f *fixture.Fixture, s *scenarios.Scenario) (*reports.Summary, scenarios.RunInfo, scenarios.Progress) {
	GinkgoHelper()
	Expect(f.Target.Check(s)).To(Succeed())
	thresholds, err := s.ParseThresholds()
	Expect(err).NotTo(HaveOccurred())
	sum := reports.NewSummarizer(reports.RunMeta{Scenario: s.Name}, reports.WithThresholds(thresholds...))
	var mu sync.Mutex
	var last scenarios.Progress
	info, err := scenarios.Run(ctx, scenarios.RunConfig{
		Scenario: s, Target: f.Target, Seed: 7, Reporter: sum,
		Progress:      func(p scenarios.Progress) { mu.Lock(); last = p; mu.Unlock() },
		ProgressEvery: 100 * time.Millisecond,
	})
	Expect(err).NotTo(HaveOccurred())
	for _, w := range info.Warnings {
		GinkgoWriter.Println("warning:", w)
	}
	summary := sum.Summary()
	Expect(summary.Rooms).NotTo(BeNil(), "no rooms section in the summary")
	GinkgoWriter.Printf("rooms %d complete %d participants %d ok %d canceled %d; join p95 %v; relay %v; ice %v; mos p50 %v; leaks %d %v\n",
		summary.Rooms.Count, summary.Rooms.Complete, summary.Rooms.Participants, summary.Rooms.OK, summary.Rooms.Canceled,
		deref(summary.Rooms.JoinMS.P95), deref(summary.Rooms.ICE.RelayRatio), deref(summary.Rooms.ICE.SuccessRate),
		deref(summary.Rooms.MOS.P50), summary.Rooms.Leaks, summary.Rooms.LeaksByKind)
	mu.Lock()
	defer mu.Unlock()
	return summary, info, last
}

// runScenario runs s to its end on a reference of its own and checks
// that the run finished its plan, counted its rooms live, and left no
// goroutine behind.
func runScenario(ctx context.Context, s *scenarios.Scenario, weaken ...string) *reports.Summary {
	GinkgoHelper()
	f, closeRef := ownReference(ctx, weaken...)
	summary, info, last := run(ctx, f, s)
	Expect(info.Interrupted || info.LimitHit).To(BeFalse(), "the run did not finish its plan")
	Expect(last.Final).To(BeTrue())
	Expect(last.Rooms).To(Equal(s.Load.Calls), "rooms counted in the live progress")
	Expect(last.Participants).To(Equal(2*s.Load.Calls), "participants counted in the live progress")
	closeRef()
	return summary
}

func deref(f *float64) any {
	if f == nil {
		return "-"
	}
	return *f
}

var _ = Describe("Rooms at scenario level", Label("scenario", "candidates", "rfc8828"), func() {
	It("hold 20 two-party relay-only rooms at once: relay ratio 1.0, ICE success >= 99.5%, MOS p50 >= 4.3, no leak", func(ctx SpecContext) {
		release, err := fixture.LockTiming() // MOS from measured loss and delay: no other heavy test meanwhile
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(release)
		summary := runScenario(within(ctx, 60*time.Second), roomsScenario(20, "relay"))
		Expect(summary.Rooms.Count).To(Equal(20))
		Expect(summary.Rooms.Complete).To(Equal(20))
		Expect(summary.Rooms.Participants).To(Equal(40))
		Expect(summary.Rooms.Inspected).To(BeNumerically(">=", 80), "every participant inspects at least joined and the offer or answer")
		Expect(summary.Thresholds).To(HaveLen(4))
		for _, t := range summary.Thresholds {
			Expect(t.OK).To(BeTrue(), "threshold %s failed: actual %v %s", t.Name, t.Actual, t.Note)
		}
		Expect(summary.Calls.Attempted).To(BeZero(), "room participants are no calls")
	})

	It("leave at once when the run is stopped, and still record every participant", func(ctx SpecContext) {
		f, closeRef := ownReference(ctx)
		s := roomsScenario(6, "relay")
		s.Flows[0].Hold = scenarios.FixedHold(30 * time.Second)
		s.Load.MaxDuration = 0
		stop, cancel := context.WithTimeout(within(ctx, 30*time.Second), 2500*time.Millisecond)
		defer cancel()
		start := time.Now()
		summary, info, last := run(stop, f, s)
		Expect(time.Since(start)).To(BeNumerically("<", 10*time.Second), "the rooms were held, not left")
		Expect(info.Interrupted).To(BeTrue())
		Expect(last.Rooms).To(Equal(6))
		Expect(summary.Rooms.Participants).To(Equal(12), "a record for every participant")
		Expect(summary.Rooms.Failed).To(BeZero(), "stopped rooms are canceled or ok, never failed: %+v", summary.Rooms.Failures)
		closeRef()
	})

	DescribeTable("find what participants offering host and srflx candidates leak, when the service lets it through",
		func(ctx SpecContext, weaken []string, defended bool) {
			summary := runScenario(within(ctx, 45*time.Second), roomsScenario(4, "all"), weaken...)
			Expect(summary.Rooms.Participants).To(Equal(8))
			if defended {
				Expect(summary.Rooms.Leaks).To(BeZero(), "leaks through the hardened filter: %v", summary.Rooms.LeaksByKind)
				Expect(summary.Rooms.OK).To(Equal(8))
				return
			}
			Expect(summary.Rooms.Leaks).To(BeNumerically(">", 0))
			Expect(summary.Rooms.LeaksByKind).To(HaveKey(room.LeakHost))
			Expect(summary.Rooms.LeaksByKind).To(HaveKey(room.LeakSrflx))
			leaks := thresholdOK(summary, "rooms.leaks == 0")
			Expect(leaks).To(BeFalse(), "the rooms.leaks threshold held with %d leaks", summary.Rooms.Leaks)
		},
		Entry("none by the hardened service", nil, true),
		Entry("host and srflx candidates with candidate-filter weakened", []string{rooms.WeakenCandidateFilter}, false),
	)
})

// thresholdOK says whether the summary's threshold expr held.
func thresholdOK(s *reports.Summary, expr string) bool {
	GinkgoHelper()
	for _, t := range s.Thresholds {
		if t.Name == expr {
			return t.OK
		}
	}
	Fail("no threshold " + expr)
	return false
}
