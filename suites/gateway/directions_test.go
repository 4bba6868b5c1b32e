package gateway_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/gauntlet-rtc/gauntlet/scenarios"
	"github.com/gauntlet-rtc/gauntlet/suites/fixture"
)

// Every direction of call through the edge connects and carries the
// harness's marked audio both ways: WebRTC (SIP over WebSocket, ICE,
// DTLS-SRTP) and plain SIP (UDP, RTP) on either end.
var _ = Describe("Calls in every direction", Label("rfc3261", "s13"), func() {
	DescribeTable("connect and carry audio both ways",
		func(ctx SpecContext, from, to scenarios.Kind) {
			c, cancel := within(ctx, 30*time.Second)
			defer cancel()
			caller, err := fx.Endpoint(c, fixture.Population(from))
			Expect(err).NotTo(HaveOccurred())
			callee, err := fx.Endpoint(c, fixture.Population(to))
			Expect(err).NotTo(HaveOccurred())
			for _, ep := range []*endpoint.Endpoint{caller, callee} {
				reg := ep.Register(c)
				Expect(reg.Outcome).To(Equal(reports.OutcomeOK), "REGISTER %s: %s", ep.User(), reg.Error)
			}
			res := endpoint.PlaceCall(c, caller, callee, endpoint.CallSpec{ID: string(from) + "-" + string(to), Hold: time.Second})
			Expect(res.Outcome).To(Equal(reports.OutcomeOK), res.Error)
			Expect(res.Media).To(HaveLen(2))
			for _, d := range res.Media {
				Expect(d.Audio).To(BeTrue(), "%s: received %d of %d", d.Name, d.Received, d.Sent)
			}
		},
		Entry("browser to phone", Label("rfc7118"), scenarios.KindWebRTC, scenarios.KindSIP),
		Entry("phone to browser", Label("rfc7118", "rfc5763"), scenarios.KindSIP, scenarios.KindWebRTC),
		Entry("browser to browser", Label("rfc8829"), scenarios.KindWebRTC, scenarios.KindWebRTC),
		Entry("phone to phone", scenarios.KindSIP, scenarios.KindSIP),
	)
})
