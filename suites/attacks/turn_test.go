package attacks_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/attack"
	"github.com/gauntlet-rtc/gauntlet/reference"
	"github.com/gauntlet-rtc/gauntlet/reference/turn"
	"github.com/gauntlet-rtc/gauntlet/suites/fixture"
)

// turnAttackEnv starts the reference with its TURN relay, the named
// defences weakened, and returns the attack env for it. The relay's peers
// live on loopback, as its target file would say (LoopbackPeers).
func turnAttackEnv(ctx context.Context, weaken ...string) *attack.Env {
	GinkgoHelper()
	tc := turn.DefaultTestConfig()
	tc.Weaken = weaken
	return turnAttackEnvWith(ctx, tc)
}

// turnAttackEnvWith is turnAttackEnv with the relay configured as tc.
func turnAttackEnvWith(ctx context.Context, tc turn.Config) *attack.Env {
	GinkgoHelper()
	cfg := reference.DefaultConfig()
	cfg.TURN, cfg.Rooms = &tc, nil // rooms would need the relay's REST secret, which this config may lack
	fx, err := fixture.StartReference(ctx, cfg)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(fx.Close()).To(Succeed()) })
	env, err := fx.AttackEnv(ctx, GinkgoT().TempDir())
	Expect(err).NotTo(HaveOccurred())
	env.TURN.LoopbackPeers = true
	return env
}

// runTURNAttack runs the named attack and prints its verdict and evidence.
func runTURNAttack(ctx context.Context, name string, env *attack.Env) attack.Outcome {
	GinkgoHelper()
	as, err := attack.Select([]string{name})
	Expect(err).NotTo(HaveOccurred())
	start := time.Now()
	out := attack.Run(ctx, as[0], env)
	printOutcome(name, out, time.Since(start))
	return out
}

func printOutcome(name string, out attack.Outcome, took time.Duration) {
	verdict := out.Verdict
	if out.Severity != "" {
		verdict += " (" + out.Severity + ")"
	}
	fmt.Fprintf(GinkgoWriter, "%s: %s in %v: %s\n", name, verdict, took.Round(time.Millisecond), out.Reason)
	for _, e := range out.Evidence {
		fmt.Fprintf(GinkgoWriter, "  %s\n", e)
	}
	for _, w := range out.Warnings {
		fmt.Fprintf(GinkgoWriter, "  warning: %s\n", w)
	}
	if out.Remediation != "" {
		fmt.Fprintf(GinkgoWriter, "  remediation: %s\n", out.Remediation)
	}
}

// turnSubVerdict returns the verdict the evidence gives a sub-check
// ("[name] verdict: summary"), or "" when it has none.
func turnSubVerdict(out attack.Outcome, check string) string {
	prefix := "[" + check + "] "
	for _, e := range out.Evidence {
		if rest, ok := strings.CutPrefix(e, prefix); ok {
			for _, v := range []string{attack.Resisted, attack.Vulnerable, attack.Inconclusive} {
				if strings.HasPrefix(rest, v+":") {
					return v
				}
			}
		}
	}
	return ""
}

// turnAbuseChecks are turn-abuse's sub-checks.
var turnAbuseChecks = []string{"unauthenticated", "expired-credentials", "forged-credentials", "peer-deny", "quota", "bandwidth-cap"}

// expectTURNChecks checks every sub-check's verdict: the failed ones
// VULNERABLE, the others resisted.
func expectTURNChecks(out attack.Outcome, checks []string, failed ...string) {
	GinkgoHelper()
	for _, c := range checks {
		want := attack.Resisted
		for _, f := range failed {
			if f == c {
				want = attack.Vulnerable
			}
		}
		Expect(turnSubVerdict(out, c)).To(Equal(want), "sub-check %s", c)
	}
}

var _ = Describe("turn-abuse against the reference relay", Label("turn-abuse", "rfc8656", "turn"), func() {
	It("resists with every defence on", func(ctx SpecContext) {
		out := runTURNAttack(ctx, "turn-abuse", turnAttackEnv(ctx))
		Expect(out.Verdict).To(Equal(attack.Resisted), out.Reason)
		expectTURNChecks(out, turnAbuseChecks)
		Expect(out.Capture).To(BeAnExistingFile())
	}, SpecTimeout(60*time.Second))

	It("with a static TURN user: the REST credential checks are not verified, the rest resist", func(ctx SpecContext) {
		tc := turn.DefaultTestConfig()
		tc.Secrets = nil // the target file then gives the static user
		out := runTURNAttack(ctx, "turn-abuse", turnAttackEnvWith(ctx, tc))
		Expect(out.Verdict).To(Equal(attack.Resisted), out.Reason)
		expectTURNChecks(out, []string{"unauthenticated", "peer-deny", "quota", "bandwidth-cap"})
		Expect(turnSubVerdict(out, "expired-credentials")).To(Equal(attack.Inconclusive))
		Expect(turnSubVerdict(out, "forged-credentials")).To(Equal(attack.Inconclusive))
		Expect(out.Warnings).To(ContainElement(ContainSubstring("not verified")))
	}, SpecTimeout(60*time.Second))

	for _, tc := range []struct{ weaken, check string }{
		{turn.WeakenPeerDeny, "peer-deny"},
		{turn.WeakenCredentialExpiry, "expired-credentials"},
		{turn.WeakenQuota, "quota"},
		{turn.WeakenBandwidthCap, "bandwidth-cap"},
	} {
		It("is VULNERABLE with "+tc.weaken+" weakened, and says which defence failed", Label(tc.weaken), func(ctx SpecContext) {
			out := runTURNAttack(ctx, "turn-abuse", turnAttackEnv(ctx, tc.weaken))
			Expect(out.Verdict).To(Equal(attack.Vulnerable), out.Reason)
			Expect(out.Severity).NotTo(BeEmpty())
			Expect(out.Remediation).NotTo(BeEmpty())
			expectTURNChecks(out, turnAbuseChecks, tc.check)
		}, SpecTimeout(60*time.Second))
	}
})

// turnTortureChecks are turn-torture's cases, as its evidence names them.
var turnTortureChecks = []string{
	"empty-datagram", "header-cut-short", "bad-magic-cookie", "length-not-multiple-of-4", "length-past-datagram",
	"attribute-past-message", "bad-fingerprint", "unknown-comprehension-required", "unknown-comprehension-optional",
	"bad-message-integrity", "many-optional-attributes", "many-required-attributes", "unknown-method",
	"channeldata-unbound", "channeldata-length-past-datagram", "alive",
}

var _ = Describe("turn-torture against the reference relay", Label("turn-torture", "torture", "rfc8489", "turn"), func() {
	It("resists: malformed messages dropped, 420 and 401 as RFC 8489 says, and the relay keeps answering", Label("s6.3"), func(ctx SpecContext) {
		out := runTURNAttack(ctx, "turn-torture", turnAttackEnv(ctx))
		Expect(out.Verdict).To(Equal(attack.Resisted), out.Reason)
		expectTURNChecks(out, turnTortureChecks)
	}, SpecTimeout(60*time.Second))

	It("is VULNERABLE with stun-validation weakened: a bad FINGERPRINT is answered", Label(turn.WeakenSTUNValidation, "s14.7"), func(ctx SpecContext) {
		out := runTURNAttack(ctx, "turn-torture", turnAttackEnv(ctx, turn.WeakenSTUNValidation))
		Expect(out.Verdict).To(Equal(attack.Vulnerable), out.Reason)
		expectTURNChecks(out, turnTortureChecks, "bad-fingerprint")
	}, SpecTimeout(60*time.Second))
})
