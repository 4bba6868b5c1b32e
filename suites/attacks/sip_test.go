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

var _ = Describe("torture", Label("attack", "torture", "rfc4475"), func() {
	It("is resisted by the hardened reference, which answers the malformed requests sipgo drops", func(ctx SpecContext) {
		out := runSIPAttack(ctx, "sip-torture", sipAttackEnv(ctx))
		Expect(out.Verdict).To(Equal(attack.Resisted), out.Reason)
		for _, name := range []string{"badinv01", "clerr", "scalar02", "quotbal", "ltgtruri", "lwsruri", "badaspec", "baddn",
			"badvers", "mismatch01", "multi01", "mcl01", "regbadct", "insuf", "unkscm", "bext01", "invut", "zeromf"} {
			Expect(containing(out.Evidence, name+" (RFC 4475")).To(HaveLen(1), "%s answered as RFC 4475 asks", name)
		}
	})

	It("finds the server silenced with malformed-input weakened", func(ctx SpecContext) {
		out := runSIPAttack(ctx, "sip-torture", sipAttackEnv(ctx, gateway.WeakenMalformedInput))
		Expect(out.Verdict).To(Equal(attack.Vulnerable))
		Expect(out.Severity).To(Equal(attack.High))
		Expect(out.Reason).To(ContainSubstring("stopped answering OPTIONS"))
	})
})
