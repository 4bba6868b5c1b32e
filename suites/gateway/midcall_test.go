package gateway_test

import (
	"context"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/gauntlet-rtc/gauntlet/scenarios"
	"github.com/gauntlet-rtc/gauntlet/suites/fixture"
)

// call is a connected call between two endpoints of the fixture, kept up
// for mid-call actions; it is hung up and closed when the spec ends.
type call struct {
	caller, callee       *endpoint.Endpoint
	callerLeg, calleeLeg *endpoint.Leg
}

func connect(ctx context.Context, from, to scenarios.Kind, tweak ...func(*endpoint.Config)) *call {
	caller, err := fx.Endpoint(ctx, fixture.Population(from), tweak...)
	Expect(err).NotTo(HaveOccurred())
	callee, err := fx.Endpoint(ctx, fixture.Population(to), tweak...)
	Expect(err).NotTo(HaveOccurred())
	for _, ep := range []*endpoint.Endpoint{caller, callee} {
		reg := ep.Register(ctx)
		Expect(reg.Outcome).To(Equal(reports.OutcomeOK), reg.Error)
	}
	return dial(ctx, caller, callee)
}

func dial(ctx context.Context, caller, callee *endpoint.Endpoint) *call {
	accepted := make(chan *endpoint.Leg, 1)
	go func() { accepted <- callee.Accept(ctx) }()
	out := caller.Dial(ctx, callee.User())
	in := <-accepted
	DeferCleanup(func() {
		hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = out.Hangup(hctx)
		_ = out.Close()
		_ = in.Close()
	})
	Expect(out.Err()).NotTo(HaveOccurred())
	Expect(in.Err()).NotTo(HaveOccurred())
	return &call{caller: caller, callee: callee, callerLeg: out, calleeLeg: in}
}

func received(l *endpoint.Leg) func() int {
	return func() int { return l.Report().Recv.Packets }
}

// flowing waits until l receives more audio.
func flowing(ctx context.Context, l *endpoint.Leg) {
	start := received(l)()
	EventuallyWithOffset(1, received(l)).WithContext(ctx).WithTimeout(5*time.Second).WithPolling(20*time.Millisecond).
		Should(BeNumerically(">", start+10), "audio to %s", l.Report().User)
}

// stopped checks l receives nothing more for a while (once what was in
// flight has landed).
func stopped(ctx context.Context, l *endpoint.Leg) {
	Eventually(func() int {
		a := received(l)()
		time.Sleep(100 * time.Millisecond) // one sample window: the quantity under test is a rate
		return received(l)() - a
	}).WithContext(ctx).WithTimeout(5 * time.Second).Should(BeZero())
	ConsistentlyWithOffset(1, received(l)).WithContext(ctx).WithTimeout(400*time.Millisecond).
		Should(Equal(received(l)()), "audio to %s after the hold", l.Report().User)
}

var _ = Describe("Hold and unhold by re-INVITE", Label("rfc3264", "s8.4", "rfc3261", "s14"), func() {
	DescribeTable("stop the held direction and bring it back",
		func(ctx SpecContext, from, to scenarios.Kind) {
			c, cancel := within(ctx, 30*time.Second)
			defer cancel()
			k := connect(c, from, to)
			flowing(c, k.callerLeg)
			flowing(c, k.calleeLeg)

			Expect(k.callerLeg.Hold(c)).To(Succeed())
			stopped(c, k.callerLeg) // a=sendonly: nothing comes to the holder
			flowing(c, k.calleeLeg) // what the holder sends still goes out

			Expect(k.callerLeg.Unhold(c)).To(Succeed())
			flowing(c, k.callerLeg)
			flowing(c, k.calleeLeg)
		},
		Entry("a browser holds a phone", scenarios.KindWebRTC, scenarios.KindSIP),
		Entry("a phone holds a browser", scenarios.KindSIP, scenarios.KindWebRTC),
	)
})

var _ = Describe("ICE restart by re-INVITE", Label("rfc8445", "s9", "rfc8839", "s4.4.1.1.2"), func() {
	It("gets new ICE credentials through and the media resumes", func(ctx SpecContext) {
		c, cancel := within(ctx, 30*time.Second)
		defer cancel()
		k := connect(c, scenarios.KindWebRTC, scenarios.KindSIP)
		flowing(c, k.callerLeg)
		before := k.callerLeg.Report().Media.ICE
		Expect(k.callerLeg.RestartICE(c)).To(Succeed())
		flowing(c, k.callerLeg)
		flowing(c, k.calleeLeg)
		Expect(k.callerLeg.Report().Media.ICE.Connected).To(BeTrue(), "before the restart: %+v", before)
	})
})

var _ = Describe("DTMF", Label("rfc4733"), func() {
	DescribeTable("telephone-events are carried between the legs",
		func(ctx SpecContext, from, to scenarios.Kind) {
			c, cancel := within(ctx, 30*time.Second)
			defer cancel()
			k := connect(c, from, to, func(cfg *endpoint.Config) { cfg.DTMF = true })
			flowing(c, k.calleeLeg)
			Expect(k.callerLeg.SendDTMF(c, "1#9")).To(Succeed())
			Eventually(k.calleeLeg.Digits).WithContext(c).WithTimeout(5 * time.Second).Should(Equal("1#9"))
			Expect(k.calleeLeg.SendDTMF(c, "*0")).To(Succeed())
			Eventually(k.callerLeg.Digits).WithContext(c).WithTimeout(5 * time.Second).Should(Equal("*0"))
		},
		Entry("browser to phone", Label("s2.5"), scenarios.KindWebRTC, scenarios.KindSIP),
		Entry("phone to browser", Label("s2.5"), scenarios.KindSIP, scenarios.KindWebRTC),
	)
})

var _ = Describe("Blind transfer", Label("rfc3515", "rfc3261"), func() {
	It("connects the other party to the target, NOTIFYs 200 and ends the transferor's leg", Label("s2.4.4"), func(ctx SpecContext) {
		c, cancel := within(ctx, 30*time.Second)
		defer cancel()
		k := connect(c, scenarios.KindWebRTC, scenarios.KindSIP) // the browser will transfer the phone
		target, err := fx.Endpoint(c, fixture.Population(scenarios.KindSIP))
		Expect(err).NotTo(HaveOccurred())
		Expect(target.Register(c).Outcome).To(Equal(reports.OutcomeOK))
		accepted := make(chan *endpoint.Leg, 1)
		go func() { accepted <- target.Accept(c) }()

		Expect(k.callerLeg.Transfer(c, target.User())).To(Succeed())
		toTarget := <-accepted
		Expect(toTarget.Err()).NotTo(HaveOccurred())
		DeferCleanup(toTarget.Close)
		Eventually(k.callerLeg.Done()).WithContext(c).Should(BeClosed(), "the transferor's leg ends")

		// The transferee and the target now hear each other.
		flowing(c, toTarget)
		phoneTag := k.calleeLeg.Report().SendTag
		Eventually(func() []uint64 { return toTarget.Report().Recv.Tags }).WithContext(c).
			Should(ContainElement(phoneTag), "the target hears the transferred phone")
		targetTag := toTarget.Report().SendTag
		Eventually(func() bool { return slices.Contains(k.calleeLeg.Report().Recv.Tags, targetTag) }).WithContext(c).
			Should(BeTrue(), "the transferred phone hears the target")
	})

	It("reports a failed transfer and keeps the call", Label("s2.4.5"), func(ctx SpecContext) {
		c, cancel := within(ctx, 30*time.Second)
		defer cancel()
		k := connect(c, scenarios.KindWebRTC, scenarios.KindSIP)
		unregistered, _ := rawUser(scenarios.KindSIP)
		Expect(k.callerLeg.Transfer(c, unregistered)).To(MatchError(ContainSubstring("480")))
		flowing(c, k.callerLeg)
	})
})
