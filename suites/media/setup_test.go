package media_test

import (
	"bytes"
	"regexp"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/agents/peer"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/gauntlet-rtc/gauntlet/scenarios"
	"github.com/gauntlet-rtc/gauntlet/suites/fixture"
)

var setupAttr = regexp.MustCompile(`(?m)^a=setup:(\S+)\r?$`)

// A browser that offers a=setup:passive must get setup:active back, and
// the DTLS roles that follow must let audio through both ways: an answer
// of passive leaves both ends waiting for a ClientHello (the agent refuses
// such an answer outright).
var _ = Describe("DTLS roles in the answer to a browser's offer", Label("rfc5763", "s5", "rfc4145", "s4.1"), func() {
	It("answers setup:passive with setup:active, and the call carries audio both ways", func(ctx SpecContext) {
		answers := make(chan []byte, 1)
		browser, err := fx.Endpoint(ctx, fixture.Population(scenarios.KindWebRTC), func(cfg *endpoint.Config) {
			cfg.DTLSSetup = peer.SetupPassive
			prev := cfg.PeerConfig
			cfg.PeerConfig = func(pc *peer.Config) {
				if prev != nil {
					prev(pc)
				}
				pc.RemoteSDP = func(b []byte) {
					select {
					case answers <- bytes.Clone(b):
					default:
					}
				}
			}
		})
		Expect(err).NotTo(HaveOccurred())
		phone, err := fx.Endpoint(ctx, fixture.Population(scenarios.KindSIP))
		Expect(err).NotTo(HaveOccurred())
		for _, ep := range []*endpoint.Endpoint{browser, phone} {
			reg := ep.Register(ctx)
			Expect(reg.Outcome).To(Equal(reports.OutcomeOK), reg.Error)
		}

		res := endpoint.PlaceCall(ctx, browser, phone, endpoint.CallSpec{ID: "setup-passive", Hold: time.Second})

		var answer []byte
		Expect(answers).To(Receive(&answer), "the browser saw no answer")
		roles := setupAttr.FindAllSubmatch(answer, -1)
		Expect(roles).NotTo(BeEmpty(), "the answer has no a=setup:\n%s", answer)
		for _, m := range roles {
			Expect(string(m[1])).To(Equal(peer.SetupActive), "the answer:\n%s", answer)
		}
		Expect(res.Outcome).To(Equal(reports.OutcomeOK), "%s: %s", res.Cause, res.Error)
		Expect(res.Security.DTLSRole).To(Equal("server"), "the browser offered passive")
		Expect(res.Media).To(HaveLen(2))
		for _, d := range res.Media {
			Expect(d.Audio).To(BeTrue(), "%s: sent %d, received %d", d.Name, d.Sent, d.Received)
		}
	}, SpecTimeout(30*time.Second))
})
