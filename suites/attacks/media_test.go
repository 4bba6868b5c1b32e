package attacks_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/attack"
	"github.com/gauntlet-rtc/gauntlet/reference"
	"github.com/gauntlet-rtc/gauntlet/reference/gateway"
	"github.com/gauntlet-rtc/gauntlet/suites/fixture"
)

// runMediaAttack starts the reference with the gateway's named defences
// weakened, runs the named attack against it, prints the verdict and its
// evidence, and returns the outcome.
func runMediaAttack(ctx context.Context, name string, weaken ...string) attack.Outcome {
	GinkgoHelper()
	cfg := reference.DefaultConfig()
	cfg.Gateway.Weaken = weaken
	return runMediaAttackOn(ctx, cfg, name)
}

// sdesReference is the reference speaking SDES-SRTP toward phones (its
// target file says so, and the phones follow), with the named defences
// weakened.
func sdesReference(weaken ...string) reference.Config {
	cfg := reference.DefaultConfig()
	cfg.Gateway.TrunkSRTP = gateway.TrunkSRTPSDES
	cfg.Gateway.Weaken = weaken
	return cfg
}

// runMediaAttackOn is runMediaAttack against the reference as cfg
// configures it.
func runMediaAttackOn(ctx context.Context, cfg reference.Config, name string) attack.Outcome {
	GinkgoHelper()
	weaken := cfg.Gateway.Weaken
	fx, err := fixture.StartReference(ctx, cfg)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(fx.Close()).To(Succeed()) })
	env, err := fx.AttackEnv(ctx, GinkgoT().TempDir())
	Expect(err).NotTo(HaveOccurred())
	as, err := attack.Select([]string{name})
	Expect(err).NotTo(HaveOccurred())
	start := time.Now()
	out := attack.Run(ctx, as[0], env)
	fmt.Fprintf(GinkgoWriter, "%s against the reference (weaken %v, trunk SRTP %q): %s %s in %v: %s\n",
		name, weaken, cfg.Gateway.TrunkSRTP, out.Verdict, out.Severity, time.Since(start).Round(time.Millisecond), out.Reason)
	for _, e := range out.Evidence {
		fmt.Fprintf(GinkgoWriter, "  %s\n", e)
	}
	for _, w := range out.Warnings {
		fmt.Fprintf(GinkgoWriter, "  warning: %s\n", w)
	}
	if out.Remediation != "" {
		fmt.Fprintf(GinkgoWriter, "  remediation: %s\n", out.Remediation)
	}
	if out.Capture != "" {
		st, err := os.Stat(out.Capture)
		Expect(err).NotTo(HaveOccurred(), "the capture the outcome names")
		Expect(st.Size()).To(BeNumerically(">", 24), "the capture holds packets, not just its header")
	}
	return out
}

// evidenceWith returns the evidence lines holding every one of parts.
func evidenceWith(out attack.Outcome, parts ...string) []string {
	var lines []string
	for _, e := range out.Evidence {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(e, p)
		}
		if all {
			lines = append(lines, e)
		}
	}
	return lines
}

var _ = Describe("dtls-downgrade", Label("attack", "dtls-downgrade", "rfc5764", "rfc6347", "rfc7627", "rfc8122", "rfc8996"), func() {
	It("is resisted by the hardened reference, every row refused in both DTLS roles", func(ctx SpecContext) {
		out := runMediaAttack(ctx, "dtls-downgrade")
		Expect(out.Verdict).To(Equal(attack.Resisted), out.Reason)
		Expect(evidenceWith(out, "ACCEPTED")).To(BeEmpty())
		for _, role := range []string{"target as DTLS server", "target as DTLS client"} {
			Expect(evidenceWith(out, role, "normal handshake: completed")).To(HaveLen(1), role)
			Expect(len(evidenceWith(out, role, ": refused: "))).To(BeNumerically(">=", 4), role)
		}
		Expect(evidenceWith(out, "MD5 fingerprint", "refused", "488")).To(HaveLen(1))
		Expect(evidenceWith(out, "SHA-1 fingerprint only", "refused", "488")).To(HaveLen(1))
		Expect(out.Warnings).To(BeEmpty())
		Expect(evidenceWith(out, "DTLS 1.0", "protocol_version")).NotTo(BeEmpty())
	}, NodeTimeout(3*time.Minute))

	It("finds the CBC suites and the missing extended master secret with strong-dtls weakened, in both roles", func(ctx SpecContext) {
		out := runMediaAttack(ctx, "dtls-downgrade", gateway.WeakenStrongDTLS)
		Expect(out.Verdict).To(Equal(attack.Vulnerable), out.Reason)
		Expect(out.Severity).To(Equal(attack.Medium))
		Expect(out.Remediation).To(ContainSubstring("AEAD"))
		for _, role := range []string{"target as DTLS server", "target as DTLS client"} {
			Expect(evidenceWith(out, role, "CBC", "ACCEPTED", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA")).To(HaveLen(1), role)
			Expect(evidenceWith(out, role, "extended_master_secret", "ACCEPTED")).To(HaveLen(1), role)
			Expect(evidenceWith(out, role, "NULL", "refused")).To(HaveLen(1), role)
		}
	}, NodeTimeout(3*time.Minute))

	It("finds the MD5 fingerprint taken with sdp-checks weakened, and warns of the SHA-1 one", Label("rfc8122"), func(ctx SpecContext) {
		out := runMediaAttack(ctx, "dtls-downgrade", gateway.WeakenSDPChecks)
		Expect(out.Verdict).To(Equal(attack.Vulnerable), out.Reason)
		Expect(evidenceWith(out, "MD5 fingerprint", "ACCEPTED")).To(HaveLen(1))
		Expect(evidenceWith(out, "SHA-1 fingerprint only", "taken (a warning)")).To(HaveLen(1))
		Expect(out.Warnings).To(ContainElement(ContainSubstring("SHA-1")))
		Expect(evidenceWith(out, "CBC", "ACCEPTED")).To(BeEmpty())
	}, NodeTimeout(3*time.Minute))
})

var _ = Describe("fingerprint-mismatch", Label("attack", "fingerprint-mismatch", "rfc5763", "rfc8122"), func() {
	It("is resisted by the hardened reference: no media with a certificate that does not match, in both roles", func(ctx SpecContext) {
		out := runMediaAttack(ctx, "fingerprint-mismatch")
		Expect(out.Verdict).To(Equal(attack.Resisted), out.Reason)
		Expect(evidenceWith(out, "matching certificate: media flowed")).To(HaveLen(2))
		Expect(evidenceWith(out, "mismatched certificate: refused")).To(HaveLen(2))
	}, NodeTimeout(2*time.Minute))

	It("finds media flowing with fingerprint-check weakened", func(ctx SpecContext) {
		out := runMediaAttack(ctx, "fingerprint-mismatch", gateway.WeakenFingerprintCheck)
		Expect(out.Verdict).To(Equal(attack.Vulnerable), out.Reason)
		Expect(out.Severity).To(Equal(attack.High))
		Expect(evidenceWith(out, "mismatched certificate: ACCEPTED")).To(HaveLen(2))
	}, NodeTimeout(2*time.Minute))
})

var _ = Describe("srtp-replay", Label("attack", "srtp-replay", "rfc3711"), func() {
	const (
		browserSide = "browser->phone (DTLS-SRTP)"
		phoneSide   = "phone->browser (SDES)"
	)

	It("is resisted by the hardened reference: nothing injected reaches the phone while media flows", func(ctx SpecContext) {
		out := runMediaAttack(ctx, "srtp-replay")
		Expect(out.Verdict).To(Equal(attack.Resisted), out.Reason)
		Expect(evidenceWith(out, browserSide, "dropped")).To(HaveLen(4))
		Expect(evidenceWith(out, "phone leg is plain RTP: not attacked")).To(HaveLen(1))
		Expect(evidenceWith(out, phoneSide)).To(BeEmpty())
	}, NodeTimeout(2*time.Minute))

	It("finds the replays forwarded with replay-protection weakened, and the forged tags still dropped", func(ctx SpecContext) {
		out := runMediaAttack(ctx, "srtp-replay", gateway.WeakenReplayProtection)
		Expect(out.Verdict).To(Equal(attack.Vulnerable), out.Reason)
		Expect(out.Severity).To(Equal(attack.Medium))
		Expect(evidenceWith(out, "FORWARDED")).To(HaveLen(2))
		Expect(evidenceWith(out, "tag", "dropped")).To(HaveLen(2))
	}, NodeTimeout(2*time.Minute))

	It("is resisted on both sides by the hardened reference speaking SDES-SRTP toward phones", Label("rfc4568"), func(ctx SpecContext) {
		out := runMediaAttackOn(ctx, sdesReference(), "srtp-replay")
		Expect(out.Verdict).To(Equal(attack.Resisted), out.Reason)
		Expect(out.Reason).To(ContainSubstring("either side"))
		Expect(evidenceWith(out, "phone leg: SDES ", "attacked too")).To(HaveLen(1))
		for _, side := range []string{browserSide, phoneSide} {
			Expect(evidenceWith(out, side, "dropped")).To(HaveLen(4), side)
			Expect(evidenceWith(out, side, "injected:", "sent twice", "tag cut")).To(HaveLen(1), side)
		}
		Expect(evidenceWith(out, "FORWARDED")).To(BeEmpty())
	}, NodeTimeout(2*time.Minute))

	It("finds the replays forwarded from the phone's SDES leg too with replay-protection weakened", Label("rfc4568"), func(ctx SpecContext) {
		out := runMediaAttackOn(ctx, sdesReference(gateway.WeakenReplayProtection), "srtp-replay")
		Expect(out.Verdict).To(Equal(attack.Vulnerable), out.Reason)
		Expect(out.Severity).To(Equal(attack.Medium))
		Expect(out.Reason).To(ContainSubstring(phoneSide))
		// The browser side alone would make it VULNERABLE: the phone
		// side's own evidence shows the new probe detects.
		Expect(evidenceWith(out, phoneSide, "FORWARDED")).To(HaveLen(2))
		Expect(evidenceWith(out, phoneSide, "duplicate", "FORWARDED", "reached the browser 2 time(s)")).To(HaveLen(1))
		Expect(evidenceWith(out, phoneSide, "100 indices later", "FORWARDED")).To(HaveLen(1))
		Expect(evidenceWith(out, phoneSide, "tag", "dropped")).To(HaveLen(2))
		Expect(evidenceWith(out, browserSide, "FORWARDED")).To(HaveLen(2))
	}, NodeTimeout(2*time.Minute))
})
