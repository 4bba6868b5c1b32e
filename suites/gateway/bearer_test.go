package gateway_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/agents/sipua"
	"github.com/gauntlet-rtc/gauntlet/reference"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/gauntlet-rtc/gauntlet/scenarios"
	"github.com/gauntlet-rtc/gauntlet/suites/fixture"
)

// A deployment that wants a bearer token on the SIP WebSocket upgrade and
// hands out TURN credentials at a URL of its own, as a web app's back end
// does: the harness mints the token the target file describes and asks
// that URL before each call. The reference is configured so here; against
// an outside target the same target-file fields apply.
var _ = Describe("Bearer tokens and TURN credentials from the deployment", Label("rfc6750", "rfc7118", "turn-rest", "harness"), Ordered, func() {
	var (
		own      *fixture.Fixture
		browsers = fixture.Population(scenarios.KindWebRTC)
		phones   = fixture.Population(scenarios.KindSIP)
	)

	BeforeAll(func(ctx SpecContext) {
		cfg := reference.DefaultConfig()
		cfg.Gateway.Auth.JWT.Algorithm = "HS256"
		cfg.Gateway.Auth.JWT.Secret = "a-test-signing-secret-of-32-bytes!"
		cfg.Gateway.Auth.JWT.Audience = "sip-edge"
		var err error
		own, err = fixture.StartReference(ctx, cfg)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(own.Close()).To(Succeed()) })
	})

	call := func(ctx SpecContext, tweak ...func(*endpoint.Config)) reports.Result {
		c, cancel := within(ctx, 20*time.Second)
		defer cancel()
		caller, err := own.Endpoint(c, browsers, tweak...)
		Expect(err).NotTo(HaveOccurred())
		callee, err := own.Endpoint(c, phones)
		Expect(err).NotTo(HaveOccurred())
		Expect(callee.Register(c).Outcome).To(Equal(reports.OutcomeOK))
		return endpoint.PlaceCall(c, caller, callee, endpoint.CallSpec{ID: "bearer", Hold: 300 * time.Millisecond})
	}

	It("refuses the upgrade of a browser that brings no token", Label("s3.1"), func(ctx SpecContext) {
		c, cancel := within(ctx, 10*time.Second)
		defer cancel()
		_, err := own.Endpoint(c, browsers, func(cfg *endpoint.Config) { cfg.SIP.Token = nil })
		Expect(err).To(MatchError(sipua.ErrHandshake))
		Expect(err.Error()).To(ContainSubstring("401"))
	})

	It("takes the minted token in the Authorization header, and the call connects", Label("s2.1"), func(ctx SpecContext) {
		res := call(ctx)
		Expect(res.Outcome).To(Equal(reports.OutcomeOK), res.Error)
	})

	It("takes it in the access_token query parameter, as browsers send it", Label("s2.3"), func(ctx SpecContext) {
		res := call(ctx, func(cfg *endpoint.Config) { cfg.SIP.TokenInQuery = true })
		Expect(res.Outcome).To(Equal(reports.OutcomeOK), res.Error)
	})

	It("hands out TURN credentials for the token that the relay accepts", func(ctx SpecContext) {
		viaEndpoint := *own.Target.TURN
		viaEndpoint.REST = nil
		viaEndpoint.Endpoint = &scenarios.CredentialEndpoint{URL: own.Reference().Gateway().HTTPURL() + "/turn-credentials", Auth: scenarios.CredentialAuthBearer}
		t := *own.Target
		t.TURN = &viaEndpoint
		relayOnly := func(cfg *endpoint.Config) {
			name, password, err := t.User(browsers.Name, browsers.Kind, 900)
			Expect(err).NotTo(HaveOccurred())
			token, _ := t.Token(browsers.Name, browsers.Kind, name)
			login := scenarios.TURNLogin{User: name, Password: password, Token: token}
			cfg.TURNSource, err = t.TURNSource(login, cfg.Net, false)
			Expect(err).NotTo(HaveOccurred())
			cfg.ICEPolicy = "relay"
		}
		res := call(ctx, relayOnly)
		Expect(res.Outcome).To(Equal(reports.OutcomeOK), res.Error)
		Expect(res.ICE.Relay).To(BeTrue(), "a relay-only call relays")

		wrong := func(cfg *endpoint.Config) {
			relayOnly(cfg)
			bad := t
			e := *viaEndpoint.Endpoint
			e.Auth = scenarios.CredentialAuthBasic
			tr := viaEndpoint
			tr.Endpoint = &e
			bad.TURN = &tr
			var err error
			cfg.TURNSource, err = bad.TURNSource(scenarios.TURNLogin{User: "web1900", Password: "not-the-password"}, cfg.Net, false)
			Expect(err).NotTo(HaveOccurred())
		}
		res = call(ctx, wrong)
		Expect(res.Outcome).NotTo(Equal(reports.OutcomeOK))
		Expect(res.Cause).To(Equal(reports.CauseICE))
		Expect(res.Error).To(ContainSubstring("401"))
	})
})
