package media_test

import (
	"context"
	"fmt"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sync/errgroup"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/agents/impair"
	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/gauntlet-rtc/gauntlet/reports/emodel"
	"github.com/gauntlet-rtc/gauntlet/scenarios"
	"github.com/gauntlet-rtc/gauntlet/suites/fixture"
)

// The run: calls browser -> phone through the reference gateway, each
// direction impaired on its receiver's socket with one loss condition and
// one delay condition: that layer's log is the ground truth of what the
// receiving agent was given, and when. Every loss and every delay
// condition gets at least minPackets packets (counted from the logs, and
// checked).
const (
	calls      = 60
	hold       = 14 * time.Second // 60 calls / 6 loss conditions x 2 directions x 700 packets: 14,000, with room for ticks a loaded machine skips (a quarter seen)
	minPackets = 10000
	meanBurst  = 3 // packets, for burst loss
)

type lossCond struct {
	name    string
	nominal float64 // long-run loss probability
	burst   bool
}

var lossConds = []lossCond{
	{"random 1%", 0.01, false}, {"random 2%", 0.02, false}, {"random 5%", 0.05, false},
	{"burst 1%", 0.01, true}, {"burst 2%", 0.02, true}, {"burst 5%", 0.05, true},
}

type delayCond struct {
	name          string
	delay, jitter time.Duration
}

var delayConds = []delayCond{
	{"0 ms", 0, 0},
	{"100 ms", 100 * time.Millisecond, 0},
	{"200 ms", 200 * time.Millisecond, 0},
	{"100±10 ms", 100 * time.Millisecond, 10 * time.Millisecond},
}

func (c lossCond) profile(d delayCond) (impair.Profile, error) {
	p := impair.Profile{Loss: c.nominal, Delay: d.delay, Jitter: d.jitter}
	if c.burst {
		g, err := impair.BurstLoss(c.nominal, meanBurst)
		if err != nil {
			return p, err
		}
		p.Loss, p.Burst = 0, &g
	}
	return p, nil
}

// gtDirection is one direction of one call: its record and its truth.
type gtDirection struct {
	call  int
	loss  lossCond
	delay delayCond
	codec string
	rec   reports.Direction
	truth groundTruth
}

// impairedUser brings up a user whose incoming media goes through the
// impairment, paced by clock, and registers it.
func impairedUser(ctx context.Context, clock *media.Clock, kind scenarios.Kind, p impair.Profile, seed uint64) (*endpoint.Endpoint, *impair.Log, error) {
	log := impair.NewLog()
	im, err := impair.New(impair.Config{In: impair.Schedule{Base: p}, Seed: seed, Match: impair.IsMedia, Log: log, LogUnimpaired: true})
	if err != nil {
		return nil, nil, err
	}
	ep, err := fx.EndpointOn(ctx, fixture.Population(kind), []socket.Option{socket.WithPacketWrapper(im.Wrap)},
		func(cfg *endpoint.Config) { cfg.Clock = clock })
	if err != nil {
		return nil, nil, err
	}
	if reg := ep.Register(ctx); reg.Outcome != reports.OutcomeOK {
		return nil, nil, fmt.Errorf("REGISTER %s: %s", ep.User(), reg.Error)
	}
	return ep, log, nil
}

// runCalls places every call at once and lines each direction up with the
// log of its receiver's impairment. The calls' senders are spread over the
// 20 ms frame (a clock with many shards), as independent phones would be:
// on the fixture's clock they would send in a few bursts, and the ones at
// the back of a burst would queue behind the others in the gateway.
func runCalls(ctx context.Context) ([]reports.Result, []gtDirection, error) {
	clock, err := media.NewClock(media.WithShards(2 * calls))
	if err != nil {
		return nil, nil, err
	}
	clockCtx, stopClock := context.WithCancel(ctx)
	clockDone := make(chan error, 1)
	go func() { clockDone <- clock.Run(clockCtx) }()
	defer func() {
		stopClock()
		<-clockDone
	}()
	results := make([]reports.Result, calls)
	logs := make([][2]*impair.Log, calls)
	var g errgroup.Group
	for i := range calls {
		loss, delay := lossConds[i%len(lossConds)], delayConds[i/len(lossConds)%len(delayConds)]
		g.Go(func() error {
			p, err := loss.profile(delay)
			if err != nil {
				return err
			}
			caller, callerLog, err := impairedUser(ctx, clock, scenarios.KindWebRTC, p, uint64(2*i+1))
			if err != nil {
				return err
			}
			callee, calleeLog, err := impairedUser(ctx, clock, scenarios.KindSIP, p, uint64(2*i+2))
			if err != nil {
				return err
			}
			logs[i] = [2]*impair.Log{callerLog, calleeLog}
			results[i] = endpoint.PlaceCall(ctx, caller, callee, endpoint.CallSpec{ID: fmt.Sprintf("groundtruth-%02d", i), Hold: hold})
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	var dirs []gtDirection
	for i, res := range results {
		if res.Outcome != reports.OutcomeOK || len(res.Media) != 2 {
			return results, nil, fmt.Errorf("call %d: %s %s: %s", i, res.Outcome, res.Cause, res.Error)
		}
		codec, err := media.LookupCodec(res.Codec)
		if err != nil {
			return results, nil, err
		}
		for side, d := range res.Media { // caller->callee arrived at the callee
			t, err := truthFor(logs[i][1-side], logs[i][side], d, codec.ClockRate)
			if err != nil {
				return results, nil, fmt.Errorf("call %d %s: %w", i, d.Name, err)
			}
			dirs = append(dirs, gtDirection{
				call: i, loss: lossConds[i%len(lossConds)], delay: delayConds[i/len(lossConds)%len(delayConds)],
				codec: res.Codec, rec: d, truth: t,
			})
		}
	}
	return results, dirs, nil
}

var _ = Describe("Media figures against the impairment layer's ground truth", Label("harness", "groundtruth", "rfc3550", "sA.1", "sA.8"), Ordered, func() {
	var (
		results []reports.Result
		dirs    []gtDirection
	)

	BeforeAll(func(ctx SpecContext) {
		if !fx.Embedded {
			Skip("needs the reference in-process: the ground truth assumes a target that adds no delay of its own")
		}
		var err error
		results, dirs, err = runCalls(ctx)
		Expect(err).NotTo(HaveOccurred())
		for _, d := range dirs {
			GinkgoWriter.Printf("call %02d %-15s %-10s %-9s %-10s lost %3d (truth %3d of %4d) delay %7.2f (truth %7.2f, layer %7.2f) jitter %5.2f (truth %5.2f) MOS %.3f\n",
				d.call, d.rec.Name, d.loss.name, d.delay.name, d.codec, d.rec.Lost, d.truth.dropped, d.truth.offered,
				d.rec.DelayMS, d.truth.oneWayMS, d.truth.delayMS, d.rec.JitterMS, d.truth.jitterMS, d.rec.MOS)
		}
	}, NodeTimeout(3*time.Minute))

	It("runs every condition over at least 10,000 packets", func() {
		Expect(results).To(HaveLen(calls))
		byLoss, byDelay := map[string]int{}, map[string]int{}
		for _, d := range dirs {
			byLoss[d.loss.name] += d.truth.offered
			byDelay[d.delay.name] += d.truth.offered
		}
		for _, c := range lossConds {
			Expect(byLoss[c.name]).To(BeNumerically(">=", minPackets), c.name)
		}
		for _, c := range delayConds {
			Expect(byDelay[c.name]).To(BeNumerically(">=", minPackets), c.name)
		}
	})

	It("measures RTP loss equal to the packets the layer dropped, for random and burst loss of 1, 2 and 5%", func() {
		dropped, expected := map[string]int{}, map[string]int{}
		for _, d := range dirs {
			t := d.truth
			Expect(d.rec.Lost).To(Equal(t.dropped), "call %d %s (%s)", d.call, d.rec.Name, d.loss.name)
			Expect(t.held).To(BeZero(), "call %d %s: packets held inside the counted range", d.call, d.rec.Name)
			// What the receiver did not count is only what the layer
			// still held at hang-up: the last delay's worth of packets.
			inFlight := int((d.delay.delay+d.delay.jitter)/media.FrameDuration) + 15
			Expect(t.tail).To(BeNumerically("<=", inFlight), "call %d %s: %d packets after the last counted", d.call, d.rec.Name, t.tail)
			Expect(d.rec.LossPct).To(BeNumerically("~", t.lossPct, 1e-9))
			dropped[d.loss.name] += t.dropped
			expected[d.loss.name] += d.rec.Received + d.rec.Lost
		}
		// The layer did inject what was asked (its own convergence is
		// table-tested in agents/impair; this is a sanity check).
		for _, c := range lossConds {
			rate := float64(dropped[c.name]) / float64(expected[c.name])
			GinkgoWriter.Printf("%s: %d of %d dropped (%.2f%%)\n", c.name, dropped[c.name], expected[c.name], rate*100)
			// Loose: burst loss at 1% over 11,500 packets is about 38
			// bursts, a standard deviation of about 0.2 percentage points.
			Expect(rate).To(BeNumerically(">", c.nominal/4), c.name)
			Expect(rate).To(BeNumerically("<", c.nominal*2), c.name)
		}
	})

	// Each direction's figure is held to the ground truth: when its packets
	// left the sender's socket and reached the receiver's, which is the
	// injected delay as the layer applied it plus the path's own (the
	// in-process gateway and this machine: 0.3 ms idle, several ms on a
	// shared machine under load, when timers also fire late and the layer
	// applies 100 ms as 102). The medians against the injected values are
	// printed. The path's own delay depends on the machine's load (0.3 ms
	// idle, tens of ms while go test ./... runs other packages beside this
	// one), but every condition runs at the same time over the same path,
	// so the injection must show as the difference between each
	// condition's median and the 0 ms condition's.
	It("measures one-way delay within ±2 ms of the ground truth: the injected 0, 100 and 200 ms, as applied, plus the path", func() {
		byDelay := map[string][]float64{}
		for _, d := range dirs {
			Expect(d.rec.DelayMethod).To(Equal(reports.MethodMarks))
			Expect(d.rec.DelayMS).To(BeNumerically("~", d.truth.oneWayMS, 2), "call %d %s (%s)", d.call, d.rec.Name, d.delay.name)
			byDelay[d.delay.name] = append(byDelay[d.delay.name], d.rec.DelayMS-ms(d.delay.delay))
		}
		median := func(name string) float64 {
			excess := slices.Sorted(slices.Values(byDelay[name]))
			GinkgoWriter.Printf("%s: measured - injected: median %.2f ms (%.2f to %.2f)\n", name, excess[len(excess)/2], excess[0], excess[len(excess)-1])
			return excess[len(excess)/2]
		}
		path := median(delayConds[0].name)
		Expect(path).To(BeNumerically(">", -2), "the path cannot be faster than nothing")
		for _, c := range delayConds[1:] {
			// The layer's own release lags a little more under load for
			// delayed packets (16 ms more than the 0 ms condition's path
			// seen on a busy 2-core VM), never less than injected.
			Expect(median(c.name)).To(BeNumerically(">=", path-2), "%s: the injection must show on top of the same path as 0 ms", c.name)
			Expect(median(c.name)).To(BeNumerically("<", path+50), "%s: far more than the injection on top of the path", c.name)
		}
	})

	It("measures jitter within ±1 ms of RFC 3550's estimator over the ground-truth timings", func() {
		for _, d := range dirs {
			Expect(d.rec.JitterMS).To(BeNumerically("~", d.truth.jitterMS, 1), "call %d %s (%s)", d.call, d.rec.Name, d.delay.name)
		}
	})

	It("gives a MOS within ±0.05 of the E-model for the ground-truth loss and delay", func() {
		for _, d := range dirs {
			model, ok := emodel.Lookup(d.codec)
			Expect(ok).To(BeTrue(), d.codec)
			want := model.MOS(emodel.Input{LossPct: d.truth.lossPct, DelayMS: d.truth.oneWayMS})
			Expect(d.rec.MOS).To(BeNumerically("~", want, 0.05), "call %d %s: loss %.2f%% delay %.1f ms", d.call, d.rec.Name, d.truth.lossPct, d.truth.oneWayMS)
		}
	})
})
