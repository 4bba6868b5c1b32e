package gateway_test

import (
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/gauntlet-rtc/gauntlet/scenarios"
)

// callRecords keeps a run's call records.
type callRecords struct {
	mu   sync.Mutex
	list []reports.Result
}

func (c *callRecords) Add(r reports.Result) {
	if r.Kind == reports.KindCall {
		c.mu.Lock()
		c.list = append(c.list, r)
		c.mu.Unlock()
	}
}

func (c *callRecords) Close() error { return nil }

var _ = Describe("Mid-call actions from a scenario", Label("rfc3264", "s8.4", "rfc8445", "s9", "rfc4733", "scenario"), func() {
	It("runs DTMF, hold/unhold and ICE restart on every call, records each, and counts no hold as a gap or a loss", func(ctx SpecContext) {
		s, err := scenarios.Load("../../scenarios/midcall.yaml")
		Expect(err).NotTo(HaveOccurred())
		t := *fx.Target // users of their own: other specs keep theirs registered
		t.Users = map[string]scenarios.UserSpec{}
		for _, p := range s.Populations {
			u := fx.Target.Users[string(p.Kind)]
			u.Start += 700
			t.Users[p.Name] = u
		}
		Expect(t.Check(s)).To(Succeed())
		recs := &callRecords{}
		_, err = scenarios.Run(ctx, scenarios.RunConfig{Scenario: s, Target: &t, Seed: 3, Reporter: recs})
		Expect(err).NotTo(HaveOccurred())
		Expect(recs.list).To(HaveLen(s.Load.Calls))
		for _, r := range recs.list {
			Expect(r.Outcome).To(Equal(reports.OutcomeOK), "%s: %s %s", r.ID, r.Cause, r.Error)
			var done []string
			for _, a := range r.Actions {
				Expect(a.OK).To(BeTrue(), "%s: %s: %s", r.ID, a.Do, a.Error)
				done = append(done, a.Do)
			}
			Expect(done).To(Equal([]string{endpoint.ActionDTMF, endpoint.ActionHold, "unhold", endpoint.ActionICERestart}), r.ID)
			// The browser's hold reaches the phone as re-offers of the
			// target's own (RFC 6337 5.3), in the record: a hold about 4 s
			// in, the unhold 3 s later.
			Expect(r.Reoffers).To(HaveExactElements(
				And(HaveField("To", "callee"), HaveField("Direction", BeElementOf("sendonly", "inactive")), HaveField("AtMS", BeNumerically("~", 4000, 1500))),
				And(HaveField("To", "callee"), HaveField("Direction", "sendrecv"), HaveField("AtMS", BeNumerically("~", 7000, 1500))),
			), "%s: re-offers %+v", r.ID, r.Reoffers)
			for _, d := range r.Media {
				// The 3 s hold is neither a gap nor lost packets.
				Expect(d.LongestGapMS).To(BeNumerically("<", endpoint.MaxGap.Seconds()*1000), "%s %s", r.ID, d.Name)
				// Counted as loss, the 3 s held would be 25% of the call.
				Expect(d.LossPct).To(BeNumerically("<", 5), "%s %s", r.ID, d.Name)
			}
		}
	}, NodeTimeout(time.Minute))
})
