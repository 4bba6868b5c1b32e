package gateway_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/gauntlet-rtc/gauntlet/scenarios"
	"github.com/gauntlet-rtc/gauntlet/suites/fixture"
)

// Phones that speak SIP over TCP or TLS register over a connection of
// their own, and the gateway sends their calls (and the CANCEL of one
// the caller gives up on) back over it (RFC 3261 18.2.2, 18.3).
var _ = Describe("Phones over TCP and TLS", Label("rfc3261", "s18"), func() {
	DescribeTable("register, take a call on their connection, and hear its CANCEL",
		func(ctx SpecContext, transport string) {
			addr := map[string]string{"tcp": fx.Target.SIP.TCP, "tls": fx.Target.SIP.TLS}[transport]
			if addr == "" {
				Skip("the target file gives no sip." + transport)
			}
			c, cancel := within(ctx, 30*time.Second)
			defer cancel()
			phones := fixture.Population(scenarios.KindSIP)
			phones.Transport = transport
			phone, err := fx.Endpoint(c, phones)
			Expect(err).NotTo(HaveOccurred())
			Expect(phone.Register(c).Outcome).To(Equal(reports.OutcomeOK))
			browser, err := fx.Endpoint(c, fixture.Population(scenarios.KindWebRTC))
			Expect(err).NotTo(HaveOccurred())
			Expect(browser.Register(c).Outcome).To(Equal(reports.OutcomeOK))

			res := endpoint.PlaceCall(c, browser, phone, endpoint.CallSpec{ID: "over-" + transport, Hold: time.Second})
			Expect(res.Outcome).To(Equal(reports.OutcomeOK), "%s: %s", res.Cause, res.Error)

			// A call the caller gives up on before the phone answers: the
			// caller gets 487, and the CANCEL reaches the phone over its
			// connection, so the INVITE it later takes up cannot come up
			// (its answer is refused, or crosses the CANCEL and is BYEd).
			dialCtx, giveUp := context.WithTimeout(c, time.Second)
			out := browser.Dial(dialCtx, phone.User())
			giveUp()
			Expect(out.Err()).To(HaveOccurred())
			Expect(out.Report().SIPStatus).To(Equal(487))
			leg := phone.Accept(c)
			defer leg.Close()
			Eventually(leg.Done()).WithContext(c).WithTimeout(5 * time.Second).Should(BeClosed())
		},
		Entry("tcp", "tcp"),
		Entry("tls", "tls"),
	)
})
