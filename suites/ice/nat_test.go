package ice_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/gauntlet-rtc/gauntlet/scenarios"
)

var _ = Describe("Peer-to-peer calls across NAT types", Label("rfc4787", "rfc8445", "nat"), func() {
	load := func() *scenarios.Scenario {
		GinkgoHelper()
		s, err := scenarios.Load("../../scenarios/nat-mix.yaml")
		Expect(err).NotTo(HaveOccurred())
		return s
	}

	It("agrees with the pairing table on every call of the 200-call NAT mix, and ICE succeeds on all with TURN", func(ctx SpecContext) {
		s := load()
		Expect(s.Load.Calls).To(BeNumerically(">=", 200))
		c := run(ctx, s, fx.Target)
		sum := c.sum.Summary()
		printPairings(sum)
		Expect(sum.Calls.Attempted).To(Equal(s.Load.Calls))
		Expect(sum.ICE.Expected).To(Equal(s.Load.Calls), "every call carries the table's expectation")
		Expect(*sum.ICE.SuccessRate).To(Equal(1.0))
		for _, r := range c.calls() {
			Expect(r.ICE.Outcome()).To(Equal(r.ICE.Expected), "%s: %s behind %s calling %s: %s %s", r.ID, r.From, r.ICE.NAT, r.ICE.PeerNAT, r.Cause, r.Error)
		}
		relayed := 0
		for _, p := range sum.ICE.ByPairing {
			relayed += p.Outcomes[reports.ICERelay]
		}
		Expect(relayed).To(BeNumerically(">", 0), "the mix must include pairings that need a relay")
		Expect(relayed).To(BeNumerically("<", s.Load.Calls/2))
	}, NodeTimeout(4*time.Minute))

	It("fails exactly the pairings that need a relay when TURN is taken away, as ICE failures", func(ctx SpecContext) {
		s := load()
		for i := range s.Populations {
			s.Populations[i].NoTURN = true
		}
		s.Load.Calls, s.Load.Concurrency = 60, 30
		s.Timeouts.Setup = 4 * time.Second // a direct pair connects within about a second here
		c := run(ctx, s, fx.Target)
		sum := c.sum.Summary()
		printPairings(sum)
		failed := 0
		for _, r := range c.calls() {
			Expect(r.ICE.Outcome()).To(Equal(r.ICE.Expected), "%s: %s calling %s: %s", r.ID, r.ICE.NAT, r.ICE.PeerNAT, r.Error)
			if r.ICE.Expected == reports.ICEFail {
				failed++
				Expect(r.Cause).To(Equal(reports.CauseICE), r.ID)
				Expect(r.ICE.Relay).To(BeFalse())
			}
		}
		Expect(failed).To(BeNumerically(">", 0), "the sample must include relay-needing pairings")
		Expect(sum.ICE.Unexpected).To(BeZero())
	}, NodeTimeout(3*time.Minute))
})
