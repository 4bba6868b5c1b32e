package media_test

import (
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/gauntlet-rtc/gauntlet/scenarios"
)

// A loss burst scheduled from 4 s to 8 s after the run's start, on the
// browsers' links both ways.
const scheduledScenario = `
name: scheduled-loss
populations:
  - name: browsers
    kind: webrtc
    count: 6
    network:
      schedule:
        - {at: 4s, for: 4s, loss: 20%}
  - {name: phones, kind: sip, count: 6}
flows:
  - {name: b2p, from: browsers, to: phones, hold: 11s}
load: {calls: 6, concurrency: 6, rate: 20/s}
`

// intervals keeps the run's interval records.
type intervals struct {
	mu   sync.Mutex
	recs []reports.Result
}

func (iv *intervals) Add(r reports.Result) {
	if r.Kind == reports.KindInterval {
		iv.mu.Lock()
		iv.recs = append(iv.recs, r)
		iv.mu.Unlock()
	}
}

func (iv *intervals) Close() error { return nil }

var _ = Describe("The per-second quality series", Label("harness", "timeseries", "impairment"), func() {
	It("shows a scheduled loss burst in the seconds it was scheduled for, and not outside them", func(ctx SpecContext) {
		s, err := scenarios.Parse("scheduled.yaml", []byte(scheduledScenario))
		Expect(err).NotTo(HaveOccurred())
		t := *fx.Target // users far from the ones the ground-truth calls registered
		t.Users = map[string]scenarios.UserSpec{}
		for _, k := range []scenarios.Kind{scenarios.KindWebRTC, scenarios.KindSIP} {
			u := fx.Target.Users[string(k)]
			u.Start += 500
			t.Users[string(k)] = u
		}
		Expect(t.Check(s)).To(Succeed())
		rec := &intervals{}
		info, err := scenarios.Run(ctx, scenarios.RunConfig{Scenario: s, Target: &t, Seed: 5, Reporter: rec})
		Expect(err).NotTo(HaveOccurred())

		var during, outside []float64
		for _, r := range rec.recs {
			from, to := r.Start.Sub(info.Start), r.End.Sub(info.Start)
			GinkgoWriter.Printf("%5.1f-%5.1f s: %d calls, %d directions, loss %5.2f%%, MOS %.2f\n",
				from.Seconds(), to.Seconds(), r.Interval.Active, r.Interval.Directions, r.Interval.LossPct, r.Interval.MOS)
			if r.Interval.Directions < 2*s.Load.Calls {
				continue // calls still coming up or going down
			}
			switch {
			case from >= 4*time.Second && to <= 8*time.Second:
				during = append(during, r.Interval.LossPct)
			case to <= 4*time.Second || from >= 8*time.Second+200*time.Millisecond:
				outside = append(outside, r.Interval.LossPct)
			}
		}
		Expect(len(during)).To(BeNumerically(">=", 2), "seconds wholly inside the burst")
		Expect(len(outside)).To(BeNumerically(">=", 2), "seconds wholly outside it")
		for _, l := range during {
			// 6 calls x 2 directions x 50 packets: 600 packets a second,
			// 20% lost gives 120 +- 10; the band is wide on purpose.
			Expect(l).To(BeNumerically("~", 20, 7))
		}
		for _, l := range outside {
			Expect(l).To(BeNumerically("<", 1))
		}
	}, NodeTimeout(time.Minute))
})
