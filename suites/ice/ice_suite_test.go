// Package ice_test holds ICE measurement to an independent model: agents
// behind emulated NATs and firewalls (RFC 4787 mapping and filtering, in
// user space: agents/nat) call each other peer to peer and through the
// target, and every call must end the way a table of NAT pairings says
// (direct where a direct path exists, relay where it is needed, failure
// without TURN exactly there), with relay-only agents revealing no address
// but their relay's in what they send.
//
//	go test ./suites/ice
//	ginkgo --label-filter=rfc4787 ./suites/ice
//
// The scenario specs need a target with a turn section (the embedded
// reference has one).
package ice_test

import (
	"context"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/gauntlet-rtc/gauntlet/scenarios"
	"github.com/gauntlet-rtc/gauntlet/suites/fixture"
)

var fx *fixture.Fixture

func TestICE(t *testing.T) {
	fixture.ExclusiveTiming(t) // hundreds of ICE agents: pion nominates a relay 2 s in when a starved CPU delays the direct checks
	RegisterFailHandler(Fail)
	RunSpecs(t, "ICE through NATs and firewalls")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	var err error
	fx, err = fixture.Start(ctx)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(fx.Close()).To(Succeed()) })
	if fx.Target.TURN == nil {
		Skip("the target has no turn section: NAT traversal needs its STUN/TURN servers")
	}
}, NodeTimeout(30*time.Second))

// collector keeps every record of a run and its summary.
type collector struct {
	mu      sync.Mutex
	results []reports.Result
	sum     *reports.Summarizer
}

func newCollector() *collector { return &collector{sum: reports.NewSummarizer(reports.RunMeta{})} }

func (c *collector) Add(r reports.Result) {
	c.mu.Lock()
	c.results = append(c.results, r)
	c.mu.Unlock()
	c.sum.Add(r)
}

func (c *collector) Close() error { return nil }

func (c *collector) calls() []reports.Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []reports.Result
	for _, r := range c.results {
		if r.Kind == reports.KindCall {
			out = append(out, r)
		}
	}
	return out
}

// run runs s against t and returns what it recorded.
func run(ctx context.Context, s *scenarios.Scenario, t *scenarios.Target) *collector {
	GinkgoHelper()
	Expect(t.Check(s)).To(Succeed())
	c := newCollector()
	info, err := scenarios.Run(ctx, scenarios.RunConfig{Scenario: s, Target: t, Seed: 42, Reporter: c})
	Expect(err).NotTo(HaveOccurred())
	for _, w := range info.Warnings {
		GinkgoWriter.Println("warning:", w)
	}
	return c
}

// printPairings shows what each NAT pairing ended in.
func printPairings(s *reports.Summary) {
	for k, p := range s.ICE.ByPairing {
		GinkgoWriter.Printf("%-34s expected %-6s got %v\n", k, p.Expected, p.Outcomes)
	}
}
