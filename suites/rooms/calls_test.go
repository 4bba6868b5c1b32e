package rooms_test

import (
	"context"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/room"
	"github.com/gauntlet-rtc/gauntlet/reference/rooms"
	"github.com/gauntlet-rtc/gauntlet/reports"
)

// audioPackets is how much audio every direction must have received
// before the participants leave (1.5 s of 20 ms frames).
const audioPackets = 75

// runRoom runs a room of n participants (the first creates it, each then
// joins in turn) until every direction has carried audioPackets, and
// returns one record per participant.
func runRoom(ctx context.Context, d *deployment, n int, offerAll bool) []reports.Result {
	parts := make([]*room.Participant, n)
	for i := range parts {
		parts[i] = d.participant(ctx, offerAll)
	}
	id, err := parts[0].Create(ctx)
	Expect(err).NotTo(HaveOccurred())
	for _, p := range parts {
		Expect(p.Join(ctx, id)).To(Succeed())
	}
	for _, p := range parts {
		Expect(p.WaitPeers(ctx, n-1)).To(Succeed())
	}
	Eventually(func() int {
		least := -1
		for _, p := range parts {
			for _, pr := range p.Report().Peers {
				if least < 0 || pr.Recv.Received < least {
					least = pr.Recv.Received
				}
			}
		}
		return least
	}).WithContext(ctx).WithPolling(100 * time.Millisecond).Should(BeNumerically(">=", audioPackets))
	reps := make([]room.Report, n)
	for i, p := range parts {
		Expect(p.Leave(ctx)).To(Succeed())
		reps[i] = p.Report()
	}
	return room.Results(n, reps...)
}

func leakKinds(results []reports.Result) []string {
	var all []reports.Leak
	for _, r := range results {
		all = append(all, r.Room.Leaks...)
	}
	return room.LeakKindsOf(all)
}

var _ = Describe("Rooms", Label("media", "candidates", "rfc8828"), func() {
	It("relay a two-party room through TURN only: relay ratio 1.0, MOS >= 4.3, no leak", func(ctx SpecContext) {
		results := runRoom(within(ctx, 25*time.Second), hardened, 2, false)
		Expect(results).To(HaveLen(2))
		for _, r := range results {
			Expect(r.Outcome).To(Equal(reports.OutcomeOK), "%s: %s %s", r.ID, r.Cause, r.Error)
			Expect(r.Kind).To(Equal(reports.KindRoom))
			Expect(r.ICE.Relay).To(BeTrue(), "%s: selected %s/%s", r.ID, r.ICE.LocalCandidate, r.ICE.RemoteCandidate)
			Expect(r.ICE.Policy).To(Equal("relay"))
			Expect(r.Media).To(HaveLen(1))
			Expect(r.Media[0].MOS).To(BeNumerically(">=", 4.3), "%s: %+v", r.ID, r.Media[0])
			Expect(r.Room.Leaks).To(BeEmpty())
			Expect(r.Room.Inspected).To(BeNumerically(">=", 2))
			Expect(r.Room.JoinMS).To(BeNumerically(">", 0))
			Expect(r.Room.FirstAudioMS).To(BeNumerically(">", 0))
		}
	})

	It("relay a mesh of three, each hearing both others", Label("mesh"), func(ctx SpecContext) {
		results := runRoom(within(ctx, 30*time.Second), hardened, 3, false)
		for _, r := range results {
			Expect(r.Outcome).To(Equal(reports.OutcomeOK), "%s: %s %s", r.ID, r.Cause, r.Error)
			Expect(r.Media).To(HaveLen(2))
			Expect(r.Room.Peers).To(Equal(2))
			Expect(r.ICE.Relay).To(BeTrue())
		}
	})

	DescribeTable("strip every address but the relay's from what participants offering host and srflx candidates send",
		func(ctx SpecContext, weaken string, defended bool) {
			ctx2 := within(ctx, 30*time.Second)
			results := runRoom(ctx2, weakened(ctx2, weaken), 2, true)
			kinds := leakKinds(results)
			if defended {
				Expect(kinds).To(BeEmpty(), "leaks through the hardened filter")
				for _, r := range results {
					Expect(r.Outcome).To(Equal(reports.OutcomeOK), "%s: %s %s", r.ID, r.Cause, r.Error)
				}
				return
			}
			for _, k := range []string{room.LeakHost, room.LeakSrflx, room.LeakRaddr, room.LeakConnection} {
				Expect(slices.Contains(kinds, k)).To(BeTrue(), "no %s leak found (found %v)", k, kinds)
			}
		},
		Entry("by the hardened service", "", true),
		Entry("not with candidate-filter weakened: host, srflx, raddr and c= leaks are each found", rooms.WeakenCandidateFilter, false),
	)
})
