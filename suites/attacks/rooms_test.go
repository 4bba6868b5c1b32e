package attacks_test

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/attack"
	"github.com/gauntlet-rtc/gauntlet/reference"
	"github.com/gauntlet-rtc/gauntlet/reference/rooms"
	"github.com/gauntlet-rtc/gauntlet/reference/turn"
	"github.com/gauntlet-rtc/gauntlet/suites/fixture"
)

// roomsAttackEnv starts the reference with its TURN relay and its rooms
// service, the named rooms defences weakened, and returns the attack env.
func roomsAttackEnv(ctx context.Context, weaken ...string) *attack.Env {
	GinkgoHelper()
	cfg := reference.DefaultConfig()
	tc := turn.DefaultTestConfig()
	cfg.TURN = &tc
	rc := rooms.DefaultConfig()
	rc.Weaken = weaken
	cfg.Rooms = &rc
	fx, err := fixture.StartReference(ctx, cfg)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(fx.Close()).To(Succeed()) })
	env, err := fx.AttackEnv(ctx, GinkgoT().TempDir())
	Expect(err).NotTo(HaveOccurred())
	Expect(env.Has("rooms")).To(BeTrue(), "the reference's target file has no rooms section")
	return env
}

// runRoomAttack runs the named attack and prints its verdict and evidence.
func runRoomAttack(ctx context.Context, name string, env *attack.Env) attack.Outcome {
	GinkgoHelper()
	as, err := attack.Select([]string{name})
	Expect(err).NotTo(HaveOccurred())
	start := time.Now()
	out := attack.Run(ctx, as[0], env)
	fmt.Fprintf(GinkgoWriter, "%s: %s (%s) in %v: %s\n", name, out.Verdict, out.Severity, time.Since(start).Round(time.Millisecond), out.Reason)
	for _, e := range out.Evidence {
		fmt.Fprintf(GinkgoWriter, "  %s\n", e)
	}
	return out
}

var _ = Describe("Room attacks", Label("rooms"), func() {
	DescribeTable("room-enumeration", Label("enumeration"),
		func(ctx SpecContext, weaken, want string) {
			ctx2, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			var ws []string
			if weaken != "" {
				ws = []string{weaken}
			}
			out := runRoomAttack(ctx2, "room-enumeration", roomsAttackEnv(ctx2, ws...))
			Expect(out.Verdict).To(Equal(want), "%s: %v", out.Reason, out.Evidence)
		},
		Entry("is resisted by the hardened reference", "", attack.Resisted),
		Entry("finds sequential room IDs", rooms.WeakenRandomRoomIDs, attack.Vulnerable),
		Entry("finds no throttling", rooms.WeakenRateLimit, attack.Vulnerable),
		Entry("finds answers that tell missing rooms apart, and rooms created by probes", rooms.WeakenUniformMissingRoom, attack.Vulnerable),
	)

	DescribeTable("ip-leak", Label("candidates", "rfc8828"),
		func(ctx SpecContext, weaken, want string) {
			ctx2, cancel := context.WithTimeout(ctx, 40*time.Second)
			defer cancel()
			var ws []string
			if weaken != "" {
				ws = []string{weaken}
			}
			out := runRoomAttack(ctx2, "ip-leak", roomsAttackEnv(ctx2, ws...))
			Expect(out.Verdict).To(Equal(want), "%s: %v", out.Reason, out.Evidence)
		},
		Entry("is resisted by the hardened reference", "", attack.Resisted),
		Entry("finds host, srflx and raddr leaks with candidate-filter weakened", rooms.WeakenCandidateFilter, attack.Vulnerable),
	)
})
