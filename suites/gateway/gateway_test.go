package gateway_test

import (
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/agents/wire"
	"github.com/gauntlet-rtc/gauntlet/reference"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/gauntlet-rtc/gauntlet/scenarios"
	"github.com/gauntlet-rtc/gauntlet/suites/fixture"
)

var _ = Describe("SIP over WebSocket", Label("rfc7118"), func() {
	It("echoes the sip subprotocol in the 101 and accepts REGISTER", Label("s4", "s5"), func(ctx SpecContext) {
		c, cancel := within(ctx, 10*time.Second)
		defer cancel()
		ep, err := fx.Endpoint(c, fixture.Population(scenarios.KindWebRTC))
		Expect(err).NotTo(HaveOccurred())
		Expect(ep.Subprotocol()).To(Equal("sip"))

		res := ep.Register(c)
		Expect(res.Outcome).To(Equal(reports.OutcomeOK), "REGISTER failed: %s", res.Error)
		Expect(res.SIPStatus).To(Equal(200))
	})
})

var _ = Describe("A call from a browser to a phone", Label("rfc5763", "rfc5764", "rfc8827"), Ordered, func() {
	var (
		res      reports.Result
		offered  []string
		browsers = fixture.Population(scenarios.KindWebRTC)
		phones   = fixture.Population(scenarios.KindSIP)
	)

	BeforeAll(func(ctx SpecContext) {
		c, cancel := within(ctx, 30*time.Second)
		defer cancel()
		caller, err := fx.Endpoint(c, browsers, func(cfg *endpoint.Config) {
			for _, p := range cfg.SRTPProfiles {
				offered = append(offered, wire.SRTPProfileName(uint16(p)))
			}
		})
		Expect(err).NotTo(HaveOccurred())
		callee, err := fx.Endpoint(c, phones)
		Expect(err).NotTo(HaveOccurred())
		for _, ep := range []*endpoint.Endpoint{caller, callee} {
			reg := ep.Register(c)
			Expect(reg.Outcome).To(Equal(reports.OutcomeOK), "REGISTER %s: %s", ep.User(), reg.Error)
		}
		res = endpoint.PlaceCall(c, caller, callee, endpoint.CallSpec{ID: "suite-call", Hold: 2 * time.Second})
	})

	It("connects", func() {
		Expect(res.Error).To(BeEmpty())
		Expect(res.Outcome).To(Equal(reports.OutcomeOK))
		Expect(res.ICE.Connected).To(BeTrue())
	})

	It("negotiates DTLS 1.2 with a forward-secret suite, as seen on the wire", Label("rfc6347", "s4.1"), func() {
		Expect(res.Security.DTLSVersion).To(Equal("DTLS 1.2"))
		Expect(res.Security.CipherSuite).To(HavePrefix("TLS_ECDHE_"))
		Expect(res.Security.ExtendedMasterSecret).To(BeTrue())
		Expect(res.Security.ObservedBy).To(Equal("wire"))
	})

	It("uses an SRTP profile the agent offered", Label("rfc5764", "s4.1.2"), func() {
		Expect(offered).NotTo(BeEmpty())
		Expect(slices.Contains(offered, res.Security.SRTPProfile)).To(BeTrue(),
			"negotiated %q, offered %v", res.Security.SRTPProfile, offered)
	})

	It("carries audio both ways, exactly as sent", Label("rfc3550"), func() {
		Expect(res.Media).To(HaveLen(2))
		for _, d := range res.Media {
			Expect(d.Audio).To(BeTrue(), "%s: received %d of %d sent", d.Name, d.Received, d.Sent)
			Expect(d.Received).To(BeNumerically(">", 50), d.Name) // 2 s at 50 packets/s, minus set-up
		}
		Expect(res.OneWayAudio).To(BeFalse())
	})
})

// The record's SRTP profile must be the one the DTLS server chose, read from
// the ServerHello on the wire: with the reference preferring the second
// profile the agent offers, the second must show.
var _ = Describe("The negotiated SRTP profile in the record", Label("harness", "rfc5764", "s4.1.2"), func() {
	It("is the server's choice among the offered, as observed, not the agent's first", func(ctx SpecContext) {
		c, cancel := within(ctx, 30*time.Second)
		defer cancel()
		cfg := reference.DefaultConfig()
		cfg.Gateway.SRTPProfiles = []string{"SRTP_AES128_CM_HMAC_SHA1_80", "SRTP_AEAD_AES_128_GCM"}
		own, err := fixture.StartReference(c, cfg)
		Expect(err).NotTo(HaveOccurred())
		defer func() { Expect(own.Close()).To(Succeed()) }()

		browsers := fixture.Population(scenarios.KindWebRTC)
		browsers.SRTPProfiles = []scenarios.SRTPProfile{scenarios.SRTPAEADAES128GCM, scenarios.SRTPAES128CMHMACSHA180}
		caller, err := own.Endpoint(c, browsers)
		Expect(err).NotTo(HaveOccurred())
		callee, err := own.Endpoint(c, fixture.Population(scenarios.KindSIP))
		Expect(err).NotTo(HaveOccurred())
		Expect(callee.Register(c).Outcome).To(Equal(reports.OutcomeOK))
		res := endpoint.PlaceCall(c, caller, callee, endpoint.CallSpec{ID: "pref", Hold: 300 * time.Millisecond})
		Expect(res.Outcome).To(Equal(reports.OutcomeOK), res.Error)
		Expect(res.Security.SRTPProfile).To(Equal("SRTP_AES128_CM_HMAC_SHA1_80"))
		Expect(res.Security.ObservedBy).To(Equal("wire"))
	})
})
