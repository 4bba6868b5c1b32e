package attacks_test

import (
	"context"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/attack"
	"github.com/gauntlet-rtc/gauntlet/reference"
	"github.com/gauntlet-rtc/gauntlet/reference/gateway"
	"github.com/gauntlet-rtc/gauntlet/suites/fixture"
)

// sipAttackEnv starts the reference with the named gateway defences
// weakened and returns the attack env for it.
func sipAttackEnv(ctx context.Context, weaken ...string) *attack.Env {
	GinkgoHelper()
	cfg := reference.DefaultConfig()
	cfg.Gateway.Weaken = weaken
	fx, err := fixture.StartReference(ctx, cfg)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(fx.Close()).To(Succeed()) })
	env, err := fx.AttackEnv(ctx, GinkgoT().TempDir())
	Expect(err).NotTo(HaveOccurred())
	return env
}

// runSIPAttack runs the named attack and prints its verdict and evidence.
func runSIPAttack(ctx context.Context, name string, env *attack.Env) attack.Outcome {
	GinkgoHelper()
	as, err := attack.Select([]string{name})
	Expect(err).NotTo(HaveOccurred())
	start := time.Now()
	out := attack.Run(ctx, as[0], env)
	printOutcome(name, out, time.Since(start))
	Expect(out.Capture).NotTo(BeEmpty(), "every SIP attack writes a pcap of its own traffic")
	return out
}

// containing returns the evidence lines that contain s.
func containing(lines []string, s string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

var _ = Describe("sip-flood", Label("attack", "sip-flood", "rfc3261", "s21.5.4", "rfc3892"), func() {
	It("is resisted by the hardened reference: 503 with Retry-After, legitimate calls connect", func(ctx SpecContext) {
		out := runSIPAttack(ctx, "sip-flood", sipAttackEnv(ctx))
		Expect(out.Verdict).To(Equal(attack.Resisted), out.Reason)
		Expect(containing(out.Evidence, "Retry-After")).To(HaveLen(2), "both floods were answered 503 with Retry-After")
		Expect(containing(out.Evidence, "429 ×")).To(BeEmpty())
	})

	It("finds the flood never throttled with rate-limit weakened", func(ctx SpecContext) {
		out := runSIPAttack(ctx, "sip-flood", sipAttackEnv(ctx, gateway.WeakenRateLimit))
		Expect(out.Verdict).To(Equal(attack.Vulnerable))
		Expect(out.Reason).To(ContainSubstring("never throttled"))
		Expect(out.Severity).NotTo(BeEmpty())
		Expect(out.Remediation).To(ContainSubstring("Retry-After"))
	})
})

var _ = Describe("sip-enumeration", Label("attack", "sip-enumeration", "rfc3261", "s22"), func() {
	It("is resisted by the hardened reference: uniform answers, and wrong passwords lock out", func(ctx SpecContext) {
		out := runSIPAttack(ctx, "sip-enumeration", sipAttackEnv(ctx))
		Expect(out.Verdict).To(Equal(attack.Resisted), out.Reason)
		Expect(containing(out.Evidence, "locked out at guess")).To(HaveLen(2), "the spray and the guessing both tripped a lockout")
		Expect(out.Warnings).To(BeEmpty())
	})

	It("tells existing users from missing ones with uniform-answers weakened", func(ctx SpecContext) {
		out := runSIPAttack(ctx, "sip-enumeration", sipAttackEnv(ctx, gateway.WeakenUniformAnswers))
		Expect(out.Verdict).To(Equal(attack.Vulnerable))
		Expect(out.Reason).To(ContainSubstring("existing users from missing ones"))
		Expect(containing(out.Evidence, "REGISTER status:")).To(HaveLen(1))
		Expect(containing(out.Evidence, "INVITE status:")).To(HaveLen(1))
		Expect(containing(out.Evidence, "OPTIONS status:")).To(BeEmpty(), "the reference answers OPTIONS alike either way")
	})

	It("finds digest guessing never locked out with auth-lockout weakened", func(ctx SpecContext) {
		out := runSIPAttack(ctx, "sip-enumeration", sipAttackEnv(ctx, gateway.WeakenAuthLockout))
		Expect(out.Verdict).To(Equal(attack.Vulnerable))
		Expect(out.Severity).To(Equal(attack.High))
		Expect(out.Reason).To(ContainSubstring("never locked out"))
		Expect(out.Reason).NotTo(ContainSubstring("missing ones"), "answers stay uniform")
	})
})

// tortureRefused are the RFC 4475 requests a conforming server refuses
// (CONFORMANCE.md), which the hardened reference answers as RFC 4475 asks
// over UDP, TCP and TLS.
var tortureRefused = []string{"badinv01", "scalar02", "quotbal", "ltgtruri", "lwsruri", "badaspec", "baddn",
	"badvers", "mismatch01", "multi01", "mcl01", "regbadct", "insuf", "unkscm", "bext01", "invut", "zeromf"}

// streamOnly are the torture cases only TCP and TLS get.
var streamOnly = []string{"cl-long", "cl-missing", "pipelined", "dribbled", "long-line", "cl-huge"}

// conforming returns the evidence lines (what conformed; warnings are
// kept apart) about the named case over transport.
func conforming(out attack.Outcome, transport, name string) []string {
	return containing(out.Evidence, "["+transport+"] "+name+" (RFC ")
}

// The embedded reference names SIP over UDP, TCP, TLS and ws; the attack
// runs all four in one go, and each spec reads its transport's part.
var _ = Describe("torture", Label("attack", "torture", "rfc4475"), func() {
	Describe("against the hardened reference", Ordered, func() {
		var out attack.Outcome
		BeforeAll(func(ctx SpecContext) {
			out = runSIPAttack(ctx, "sip-torture", sipAttackEnv(ctx))
		})

		It("is resisted over every transport, and UDP still answers after the streams", func() {
			Expect(out.Verdict).To(Equal(attack.Resisted), out.Reason)
			for _, part := range []string{"udp", "tcp", "tls", "ws", "udp after the streams"} {
				Expect(out.Reason).To(ContainSubstring("["+part+"] resisted"), part)
			}
		})

		It("over UDP answers the malformed requests sipgo drops", Label("udp"), func() {
			for _, name := range append(tortureRefused, "clerr") {
				Expect(conforming(out, "udp", name)).To(HaveLen(1), "%s answered as RFC 4475 asks", name)
			}
		})

		for _, transport := range []string{"tcp", "tls"} {
			It("over "+transport+" answers them too, and keeps stream framing", Label(transport, "rfc3261", "s18.3", "s20.14"), func() {
				for _, name := range append(tortureRefused, "clerr", "inv2543") {
					Expect(conforming(out, transport, name)).To(HaveLen(1), "%s answered or closed on as a stream should", name)
				}
				for _, name := range streamOnly {
					Expect(conforming(out, transport, name)).To(HaveLen(1), "stream case %s", name)
				}
				Expect(conforming(out, transport, "cl-long")[0]).To(ContainSubstring("no answer, connection left open"),
					"the incomplete message waits for its body while the liveness probe is answered")
				Expect(conforming(out, transport, "cl-missing")[0]).To(ContainSubstring("400"))
				Expect(conforming(out, transport, "long-line")[0]).To(ContainSubstring("513"))
				Expect(conforming(out, transport, "cl-huge")[0]).To(ContainSubstring("413"))
			})
		}

		It("over ws answers or closes on them (RFC 7118: one message per WebSocket message)", Label("ws", "rfc7118"), func() {
			// The WebSocket front hands every message to sipgo, which
			// closes on what it cannot parse, and takes regbadct and baddn
			// (only the raw text shows them wrong): warnings, not verdicts.
			for _, name := range append(tortureRefused, "clerr") {
				if name == "regbadct" || name == "baddn" {
					continue
				}
				Expect(conforming(out, "ws", name)).To(HaveLen(1), "%s answered or closed on", name)
			}
			Expect(containing(out.Evidence, "[ws] cl-")).To(BeEmpty(), "the stream-only cases are for TCP and TLS")
		})
	})

	Describe("with malformed-input weakened", Ordered, func() {
		var out attack.Outcome
		BeforeAll(func(ctx SpecContext) {
			out = runSIPAttack(ctx, "sip-torture", sipAttackEnv(ctx, gateway.WeakenMalformedInput))
			Expect(out.Verdict).To(Equal(attack.Vulnerable))
			Expect(out.Severity).To(Equal(attack.High))
		})

		It("finds SIP over UDP silenced by the first datagram that does not parse", Label("udp"), func() {
			Expect(out.Reason).To(ContainSubstring("[udp] VULNERABLE: the target stopped answering OPTIONS over UDP after the RFC 4475 message badinv01"))
		})

		for _, transport := range []string{"tcp", "tls"} {
			It("finds the "+transport+" listener held up by one connection's incomplete message", Label(transport, "rfc3261", "s18.3"), func() {
				Expect(out.Reason).To(ContainSubstring("[%s] VULNERABLE: the target stopped answering OPTIONS over %s after clerr", transport, transport))
				Expect(out.Reason).To(ContainSubstring("still open"))
				Expect(out.Remediation).To(ContainSubstring("Content-Length"))
			})
		}

		It("finds SIP over WebSocket taking no new connection after the first message that does not parse", Label("ws", "rfc7118"), func() {
			// Which message it names depends on whether the front had read
			// the first unparseable one before the probe's connection came.
			Expect(out.Reason).To(ContainSubstring("[ws] VULNERABLE: the target stopped answering OPTIONS over ws after "))
		})
	})
})
