package gateway_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/agents/peer"
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

	// RFC 3264 8.4 and RFC 6337 5.3: the hold is offered to the held party.
	// A B2BUA does that with a re-INVITE of its own; toward a browser it is
	// a re-offer on the same ICE and DTLS (same ufrag, same fingerprint,
	// a=setup:actpass as JSEP offers say), in the holder's direction.
	DescribeTable("offer the hold and the unhold to a held browser by a re-INVITE of the gateway's own",
		func(ctx SpecContext, from, to scenarios.Kind, calleeHolds bool) {
			c, cancel := within(ctx, 30*time.Second)
			defer cancel()
			callerSeen, calleeSeen := &farSDP{}, &farSDP{}
			k := connectSeen(c, from, to, callerSeen, calleeSeen)
			holder, held, heldSeen := k.callerLeg, k.calleeLeg, calleeSeen
			if calleeHolds {
				holder, held, heldSeen = k.calleeLeg, k.callerLeg, callerSeen
			}
			flowing(c, holder)
			flowing(c, held)
			initial := heldSeen.all()
			Expect(initial).To(HaveLen(1), "the held browser saw the call's first SDP only")

			Expect(holder.Hold(c)).To(Succeed())
			reoffered(c, held, heldSeen, initial[0], 1, "sendonly")
			Expect(held.Report().Reoffers[0].Restart).To(BeFalse())
			stopped(c, holder) // the held browser's audio goes nowhere
			flowing(c, held)   // the holder's still comes

			Expect(holder.Unhold(c)).To(Succeed())
			reoffered(c, held, heldSeen, initial[0], 2, "sendrecv")
			flowing(c, holder)
			flowing(c, held)
		},
		Entry("a phone holds the browser it called", scenarios.KindSIP, scenarios.KindWebRTC, false),
		Entry("a browser holds the browser it called", scenarios.KindWebRTC, scenarios.KindWebRTC, false),
		Entry("a called browser holds the browser that called", scenarios.KindWebRTC, scenarios.KindWebRTC, true),
	)
})

// farSDP keeps the descriptions a browser endpoint's legs got from the far
// end, as received (peer.Config.RemoteSDP).
type farSDP struct {
	mu   sync.Mutex
	list [][]byte
}

func (f *farSDP) add(b []byte) {
	f.mu.Lock()
	f.list = append(f.list, slices.Clone(b))
	f.mu.Unlock()
}

func (f *farSDP) all() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.list)
}

func (f *farSDP) tweak(cfg *endpoint.Config) {
	cfg.PeerConfig = func(pc *peer.Config) { pc.RemoteSDP = f.add }
}

// connectSeen is connect with each endpoint's far-end SDP kept (phones
// keep none).
func connectSeen(ctx context.Context, from, to scenarios.Kind, callerSeen, calleeSeen *farSDP) *call {
	caller, err := fx.Endpoint(ctx, fixture.Population(from), callerSeen.tweak)
	Expect(err).NotTo(HaveOccurred())
	callee, err := fx.Endpoint(ctx, fixture.Population(to), calleeSeen.tweak)
	Expect(err).NotTo(HaveOccurred())
	for _, ep := range []*endpoint.Endpoint{caller, callee} {
		reg := ep.Register(ctx)
		Expect(reg.Outcome).To(Equal(reports.OutcomeOK), reg.Error)
	}
	return dial(ctx, caller, callee)
}

// reoffered checks that the held browser leg got and answered its n-th
// re-offer, offering dir, on the ICE credentials, fingerprint and
// transport of first, the call's first SDP, with a=setup:actpass.
func reoffered(ctx context.Context, held *endpoint.Leg, seen *farSDP, first []byte, n int, dir string) {
	EventuallyWithOffset(1, func() []endpoint.Reoffer { return held.Report().Reoffers }).WithContext(ctx).
		WithTimeout(10*time.Second).Should(HaveLen(n), "re-INVITEs the held browser answered")
	got := held.Report().Reoffers[n-1]
	ExpectWithOffset(1, got.Direction).To(Equal(dir), "direction of re-offer %d", n)
	all := seen.all()
	ExpectWithOffset(1, all).To(HaveLen(n+1), "descriptions the held browser got")
	sdp := all[n]
	for _, attr := range []string{"a=ice-ufrag:", "a=ice-pwd:", "a=fingerprint:"} {
		ExpectWithOffset(1, sdpAttr(sdp, attr)).To(Equal(sdpAttr(first, attr)), "%s of re-offer %d: no ICE restart, the same DTLS association", attr, n)
	}
	ExpectWithOffset(1, sdpAttr(sdp, "a=setup:")).To(Equal("actpass"), "a=setup of re-offer %d (RFC 8829 5.2.1)", n)
	ExpectWithOffset(1, directionAttrs(sdp)).To(Equal([]string{dir}), "direction attributes of re-offer %d", n)
}

// sdpAttr is the value of the first line of an SDP that starts with prefix.
func sdpAttr(sdp []byte, prefix string) string {
	for _, l := range strings.Split(string(sdp), "\r\n") {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			return v
		}
	}
	return ""
}

// directionAttrs lists the direction attributes of an SDP.
func directionAttrs(sdp []byte) []string {
	var out []string
	for _, l := range strings.Split(string(sdp), "\r\n") {
		switch v := strings.TrimPrefix(l, "a="); v {
		case "sendrecv", "sendonly", "recvonly", "inactive":
			out = append(out, v)
		}
	}
	return out
}

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
