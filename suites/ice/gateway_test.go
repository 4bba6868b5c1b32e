package ice_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/gauntlet-rtc/gauntlet/scenarios"
)

// Through the gateway the far media end sits on a reachable address, so a
// NAT alone never forces a relay: only a firewall that blocks UDP does.
const firewallScenario = `
name: firewalls
populations:
  - {name: blocked, kind: webrtc, count: 4, nat: udp-blocked}
  - {name: natted, kind: webrtc, count: 4, nat: port-restricted}
  - {name: relay-only, kind: webrtc, count: 4, ice_policy: relay}
  - {name: phones, kind: sip, count: 12}
flows:
  - {name: blocked-phone, from: blocked, to: phones, hold: 1s}
  - {name: natted-phone, from: natted, to: phones, hold: 1s}
  - {name: relay-phone, from: relay-only, to: phones, hold: 1s}
load: {calls: 24, concurrency: 6}
`

var _ = Describe("Calls through the target from behind firewalls and NATs", Label("rfc8656", "rfc6062", "firewall"), func() {
	It("relays over TURN/TCP or TLS behind a UDP-blocking firewall, and only there (and always for relay-only agents)", func(ctx SpecContext) {
		s, err := scenarios.Parse("firewalls.yaml", []byte(firewallScenario))
		Expect(err).NotTo(HaveOccurred())
		// Users for each population: the target's webrtc and sip entries,
		// in separate ranges.
		c := run(ctx, s, targetFor(s))
		seen := map[string]int{}
		for _, r := range c.calls() {
			// What this spec holds is the path ICE chose: every call must
			// get through signaling, ICE and DTLS. A media gap on a starved
			// load generator (it says so in its warnings) is the media
			// suites' business, not a path's.
			Expect(r.ICE.Connected).To(BeTrue(), "%s (%s): %s %s", r.ID, r.Population, r.Cause, r.Error)
			Expect(r.Cause).NotTo(BeElementOf(reports.CauseSignaling, reports.CauseICE, reports.CauseDTLS, reports.CauseTimeout), "%s (%s): %s", r.ID, r.Population, r.Error)
			seen[r.Population]++
			switch r.Population {
			case "blocked":
				Expect(r.ICE.Relay).To(BeTrue(), r.ID)
				Expect(r.ICE.RelayProtocol).To(BeElementOf("tcp", "tls"), r.ID)
				Expect(r.ICE.Expected).To(Equal(reports.ICERelay))
			case "natted":
				Expect(r.ICE.Relay).To(BeFalse(), "%s relayed behind a NAT alone", r.ID)
				Expect(r.ICE.Expected).To(Equal(reports.ICEDirect))
			case "relay-only":
				Expect(r.ICE.Relay).To(BeTrue(), r.ID)
				Expect(r.ICE.LocalCandidate).To(Equal("relay"))
			}
		}
		Expect(seen).To(HaveLen(3))
		Expect(c.sum.Summary().ICE.Unexpected).To(BeZero())
	}, NodeTimeout(2*time.Minute))
})

// targetFor returns the fixture's target with a users entry of its own
// for each population of s, taken from the kind's entry in consecutive
// ranges, so that no two populations log in as the same users.
func targetFor(s *scenarios.Scenario) *scenarios.Target {
	t := *fx.Target
	t.Users = map[string]scenarios.UserSpec{}
	next := map[scenarios.Kind]int{}
	for _, p := range s.Populations {
		u := fx.Target.Users[string(p.Kind)]
		u.Start += next[p.Kind]
		next[p.Kind] += p.Count
		t.Users[p.Name] = u
	}
	return &t
}
