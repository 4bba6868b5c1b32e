package media_test

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sync/errgroup"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/reference"
	"github.com/gauntlet-rtc/gauntlet/reference/gateway"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/gauntlet-rtc/gauntlet/scenarios"
	"github.com/gauntlet-rtc/gauntlet/suites/fixture"
)

// The one-way-audio run: browser-to-phone calls, all at once, through a
// reference whose gateway drops one direction's RTP on a third of the
// calls, chosen from a seed that changes every run. The gateway's list of
// the calls it hit (Gateway.Faulted, a test hook the harness never reads)
// is the ground truth the records are held to.
const (
	onewayCalls = 30
	onewayHold  = 3 * time.Second // 150 packets each way: a dead direction cannot pass for a gap
)

// onewayRun places onewayCalls calls on f, each between a browser and a
// phone of their own, and returns their records.
func onewayRun(ctx context.Context, f *fixture.Fixture) ([]reports.Result, error) {
	results := make([]reports.Result, onewayCalls)
	var g errgroup.Group
	for i := range onewayCalls {
		g.Go(func() error {
			var eps [2]*endpoint.Endpoint
			for j, kind := range []scenarios.Kind{scenarios.KindWebRTC, scenarios.KindSIP} {
				ep, err := f.Endpoint(ctx, fixture.Population(kind))
				if err != nil {
					return err
				}
				if reg := ep.Register(ctx); reg.Outcome != reports.OutcomeOK {
					return fmt.Errorf("REGISTER %s: %s", ep.User(), reg.Error)
				}
				eps[j] = ep
			}
			results[i] = endpoint.PlaceCall(ctx, eps[0], eps[1], endpoint.CallSpec{ID: fmt.Sprintf("oneway-%02d", i), Hold: onewayHold})
			return nil
		})
	}
	return results, g.Wait()
}

// deadDirection is the record's name of the direction a fault drops.
func deadDirection(faultDir string) string {
	if faultDir == gateway.DirCallerToCallee {
		return endpoint.CallerToCallee
	}
	return endpoint.CalleeToCaller
}

var _ = Describe("One-way audio against the gateway's drop-media fault", Label("harness", "groundtruth", "one-way-audio"), func() {
	DescribeTable("is reported on exactly the calls the fault hit, in the direction it dropped",
		func(ctx SpecContext, dir string, n uint64) {
			seed := uint64(GinkgoRandomSeed())*2 + n
			AddReportEntry("fault", fmt.Sprintf("drop-media %s: share 1/3, seed %d (ginkgo --seed %d)", dir, seed, GinkgoRandomSeed()))
			cfg := reference.DefaultConfig()
			cfg.TURN, cfg.Rooms = nil, nil // browser to phone needs neither
			cfg.Gateway.Faults = []gateway.Fault{{Name: gateway.FaultDropMedia, Direction: dir, Share: 1.0 / 3, Seed: seed}}
			f, err := fixture.StartReference(ctx, cfg)
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func() { Expect(f.Close()).To(Succeed()) })

			results, err := onewayRun(ctx, f)
			Expect(err).NotTo(HaveOccurred())
			hits := f.Reference().Gateway().Faulted()

			// The harness's records carry users, not Call-IDs: every call
			// has a caller and callee of its own, so the pair names it.
			type pair struct{ caller, callee string }
			faulted := map[pair]bool{}
			for _, h := range hits {
				GinkgoWriter.Printf("hit: call %d %s -> %s (%s / %s)\n", h.Call, h.Caller, h.Callee, h.CallerCallID, h.CalleeCallID)
				Expect(h.Fault).To(Equal(gateway.FaultDropMedia))
				Expect(h.Direction).To(Equal(dir))
				Expect(h.CallerCallID).NotTo(BeEmpty())
				Expect(h.CalleeCallID).NotTo(BeEmpty(), "call %d: the callee answered", h.Call)
				Expect(h.CalleeCallID).NotTo(Equal(h.CallerCallID), "each leg is a dialog of its own")
				p := pair{h.Caller, h.Callee}
				Expect(faulted).NotTo(HaveKey(p), "one hit per call")
				faulted[p] = true
			}

			var oneWay, clean int
			for _, r := range results {
				p := pair{r.From, r.To}
				if !faulted[p] {
					Expect(r.OneWayAudio).To(BeFalse(), "%s %s -> %s: not faulted", r.ID, r.From, r.To)
					Expect(r.Outcome).To(Equal(reports.OutcomeOK), "%s %s -> %s: %s %s", r.ID, r.From, r.To, r.Cause, r.Error)
					clean++
					continue
				}
				delete(faulted, p)
				Expect(r.OneWayAudio).To(BeTrue(), "%s %s -> %s: faulted (%s %s)", r.ID, r.From, r.To, r.Cause, r.Error)
				Expect(r.Cause).To(Equal(reports.CauseMedia), r.ID)
				Expect(r.Media).To(HaveLen(2), r.ID)
				for _, d := range r.Media {
					Expect(d.Audio).To(Equal(d.Name != deadDirection(dir)), "%s %s: sent %d, received %d", r.ID, d.Name, d.Sent, d.Received)
				}
				oneWay++
			}
			Expect(faulted).To(BeEmpty(), "calls the gateway hit that no record names")
			AddReportEntry("counts", fmt.Sprintf("%s: %d calls, %d faulted, %d reported one-way (the dead direction %s), %d clean and OK",
				dir, len(results), len(hits), oneWay, deadDirection(dir), clean))
			Expect(len(hits)).To(BeNumerically(">", 0), "a third of %d calls hit none: (2/3)^%d is about 5e-6", onewayCalls, onewayCalls)
			Expect(clean).To(BeNumerically(">", 0), "a third of %d calls hit all of them", onewayCalls)
		},
		Entry("caller to callee", gateway.DirCallerToCallee, uint64(0), SpecTimeout(40*time.Second)),
		Entry("callee to caller", gateway.DirCalleeToCaller, uint64(1), SpecTimeout(40*time.Second)),
	)
})
