package attacks_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/attack"
	"github.com/gauntlet-rtc/gauntlet/agents/socket"
	"github.com/gauntlet-rtc/gauntlet/suites/fixture"
)

// coturn (Debian package coturn, binary turnserver) is started by the
// specs themselves on loopback-only ports with a generated configuration,
// two ways: its deny list on (the ranges of CONFORMANCE.md as
// denied-peer-ip, loopback peers refused, which is coturn 4.6's default
// without allow-loopback-peers, and no-multicast-peers), and off with
// loopback peers allowed. Both keep a per-user quota and a bandwidth cap.
// Without turnserver the specs skip, or fail under GAUNTLET_INTEROP=require.

// coturnDenyList is CONFORMANCE.md's deny list in coturn's denied-peer-ip
// syntax (multicast is no-multicast-peers; the unspecified "::-::" is left
// out: coturn 4.6.1 then refuses every IPv4 peer of a client not on
// 127.0.0.1).
var coturnDenyList = []string{
	"0.0.0.0-0.255.255.255",
	"10.0.0.0-10.255.255.255",
	"100.64.0.0-100.127.255.255",
	"127.0.0.0-127.255.255.255",
	"169.254.0.0-169.254.255.255",
	"172.16.0.0-172.31.255.255",
	"192.168.0.0-192.168.255.255",
	"240.0.0.0-255.255.255.255",
	"::1",
	"::ffff:0.0.0.0-::ffff:255.255.255.255",
	"64:ff9b::-64:ff9b::ffff:ffff",
	"fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	"fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
}

const (
	coturnSecret   = "coturn-attack-secret-0123456789"
	coturnQuota    = 5
	coturnMaxBytes = 32000 // max-bps: bytes per second per session and direction
)

// coturnEnv starts coturn with its deny list on or off and returns an
// attack env for it, or skips when turnserver is missing.
func coturnEnv(ctx context.Context, denyList bool) *attack.Env {
	GinkgoHelper()
	bin, err := fixture.LookTool("turnserver", "coturn")
	if err != nil {
		if fixture.InteropRequired() {
			Fail(err.Error())
		}
		Skip(err.Error())
	}
	dir := GinkgoT().TempDir()
	port, err := fixture.FreePortPair()
	Expect(err).NotTo(HaveOccurred())
	ct, err := fixture.StartCoturn(ctx, fixture.CoturnConfig{Bin: bin, Dir: dir, Port: port, Lines: coturnLines(denyList)})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(ct.Close)
	sources := socket.NewSources()
	var mu sync.Mutex
	return &attack.Env{
		TURN: attack.TURNEnv{
			URLs:          []string{fmt.Sprintf("turn:%s?transport=udp", ct.Addr())},
			RESTSecret:    coturnSecret,
			LoopbackPeers: !denyList,
		},
		Net: func(opts ...socket.Option) (*socket.Net, error) {
			mu.Lock()
			src, err := sources.Next()
			mu.Unlock()
			if err != nil {
				return nil, err
			}
			return socket.New(append([]socket.Option{socket.WithSourceIP(src), socket.WithGuard(socket.NewGuard())}, opts...)...)
		},
		CaptureDir: filepath.Join(dir, "captures"),
	}
}

// coturnLines are the attack suite's own coturn settings (UDP and TCP on
// 127.0.0.1, no TLS), with the deny list on or off.
func coturnLines(denyList bool) []string {
	lines := []string{
		"realm=gauntlet.test", "static-auth-secret=" + coturnSecret,
		fmt.Sprintf("user-quota=%d", coturnQuota), fmt.Sprintf("max-bps=%d", coturnMaxBytes),
		"no-tls",
	}
	if !denyList {
		return append(lines, "allow-loopback-peers")
	}
	lines = append(lines, "no-multicast-peers")
	for _, d := range coturnDenyList {
		lines = append(lines, "denied-peer-ip="+d)
	}
	return lines
}

var _ = Describe("turn-abuse and turn-torture against coturn", Label("coturn", "interop", "turn"), func() {
	It("turn-abuse: resisted with coturn's deny list on", Label("turn-abuse", "rfc8656"), func(ctx SpecContext) {
		out := runTURNAttack(ctx, "turn-abuse", coturnEnv(ctx, true))
		Expect(out.Verdict).To(Equal(attack.Resisted), out.Reason)
		expectTURNChecks(out, []string{"unauthenticated", "expired-credentials", "forged-credentials", "peer-deny", "quota"})
		// Loopback is refused as a peer, so no relayed path exists on a
		// loopback-only machine: the cap cannot be measured, and says so.
		Expect(turnSubVerdict(out, "bandwidth-cap")).To(Equal(attack.Inconclusive))
	}, SpecTimeout(60*time.Second))

	It("turn-abuse: VULNERABLE with coturn's deny list off, the other defences holding", Label("turn-abuse", "rfc8656", "peer-deny"), func(ctx SpecContext) {
		out := runTURNAttack(ctx, "turn-abuse", coturnEnv(ctx, false))
		Expect(out.Verdict).To(Equal(attack.Vulnerable), out.Reason)
		expectTURNChecks(out, turnAbuseChecks, "peer-deny")
	}, SpecTimeout(60*time.Second))

	for _, deny := range []bool{true, false} {
		It(fmt.Sprintf("turn-torture: coturn keeps answering (deny list on: %v)", deny), Label("turn-torture", "torture", "rfc8489"), func(ctx SpecContext) {
			out := runTURNAttack(ctx, "turn-torture", coturnEnv(ctx, deny))
			Expect(turnSubVerdict(out, "alive")).To(Equal(attack.Resisted))
			Expect(out.Verdict).To(Equal(attack.Resisted), out.Reason)
		}, SpecTimeout(60*time.Second))
	}
})
