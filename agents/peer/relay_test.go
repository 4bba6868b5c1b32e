package peer_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/nat"
	"github.com/gauntlet-rtc/gauntlet/agents/peer"
	"github.com/pion/rtp"
	"github.com/pion/stun/v4"
)

var candidateLine = regexp.MustCompile(`(?m)^a=candidate:.*$`)

// checkRelayOnlySDP checks the SDP bytes a relay-only leg sends: relay
// candidates only, no related address, and the agent's own address nowhere.
func checkRelayOnlySDP(t *testing.T, sdp []byte, own string) {
	t.Helper()
	lines := candidateLine.FindAllString(string(sdp), -1)
	if len(lines) == 0 {
		t.Fatalf("no candidate in\n%s", sdp)
	}
	for _, l := range lines {
		related := regexp.MustCompile(` raddr (\S+)`).FindStringSubmatch(l)
		if !strings.Contains(l, " typ relay") || related != nil && related[1] != "0.0.0.0" {
			t.Errorf("relay-only SDP carries %q", strings.TrimSpace(l))
		}
	}
	if strings.Contains(string(sdp), own) {
		t.Errorf("the agent's address %s is in its SDP:\n%s", own, sdp)
	}
}

// TestRelayOnly calls between two relay-only legs over each TURN transport:
// only relay candidates leave, both ends relay, media flows.
func TestRelayOnly(t *testing.T) {
	r := startRelay(t)
	for _, tc := range []struct{ transport, url string }{
		{"udp", "turn:" + r.udp.String() + "?transport=udp"},
		{"tcp", "turn:" + r.tcp.String() + "?transport=tcp"},
		{"tls", "turns:" + r.tls.String() + "?transport=tcp"},
	} {
		t.Run(tc.transport, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			u, err := stun.ParseURI(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			u.Username, u.Password = relayUser, relayPass
			legs := make([]*peer.Peer, 2)
			for i := range legs {
				legs[i] = newPeer(t, func(c *peer.Config) {
					c.Policy, c.TURN, c.TURNTLS = peer.PolicyRelay, []*stun.URI{u}, r.tlsConfig()
				})
			}
			a, b := legs[0], legs[1]
			offer, err := a.Offer(ctx, []media.Codec{media.PCMU})
			if err != nil {
				t.Fatal(err)
			}
			answer, codec, err := b.Answer(ctx, offer, []media.Codec{media.PCMU})
			if err != nil {
				t.Fatal(err)
			}
			checkRelayOnlySDP(t, offer, "127.0.1.")
			checkRelayOnlySDP(t, answer, "127.0.1.")
			if _, err := a.SetAnswer(answer); err != nil {
				t.Fatal(err)
			}
			ca, cb := newCollector(codec, 5), newCollector(codec, 5)
			a.OnRTP(ca.onRTP)
			b.OnRTP(cb.onRTP)
			if errA, errB := connectBoth(ctx, a, b); errA != nil || errB != nil {
				t.Fatalf("Connect: %v / %v", errA, errB)
			}
			sendBoth(t, ctx, media.NewSender(codec, a.WriteRTP), media.NewSender(codec, b.WriteRTP), ca, cb)
			for _, leg := range legs {
				ice := leg.Report().ICE
				if !ice.Relay || ice.LocalCandidate != "relay" || ice.RemoteCandidate != "relay" || ice.Policy != "relay" {
					t.Errorf("ICE %+v, want relay on both ends", ice)
				}
				if got := leg.RelayProtocol(); got != tc.transport {
					t.Errorf("relay protocol %q, want %q", got, tc.transport)
				}
			}
		})
	}
}

// sendBoth sends media both ways (sa from the leg collected by cb, sb from
// the one collected by ca) until each collector is done. A call keeps its
// senders: a new one would start a new sequence, which SRTP's replay
// window may take for old packets.
func sendBoth(t *testing.T, ctx context.Context, sa, sb *media.Sender, ca, cb *collector) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ca.done:
			select {
			case <-cb.done:
				return
			default:
			}
		default:
		}
		// Sends may fail while ICE has no selected pair (during a restart).
		_, _ = sa.SendAt(time.Now()), sb.SendAt(time.Now())
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatal("media did not arrive both ways")
		}
	}
}

// switcher hands RTP to the collector of the current phase of a test.
type switcher struct{ cur atomic.Pointer[collector] }

func (s *switcher) onRTP(pkt *rtp.Packet, at time.Time) {
	if c := s.cur.Load(); c != nil {
		c.onRTP(pkt, at)
	}
}

// TestICERestart restarts ICE on a connected call behind NATs: the ufrag
// and pwd change, the pair is found again, and media survives.
func TestICERestart(t *testing.T) {
	r := startRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, err := natPeer(t, r, nat.FullCone, nat.TURNUDP, peer.PolicyAll)
	if err != nil {
		t.Fatal(err)
	}
	b, err := natPeer(t, r, nat.PortRestricted, nat.TURNUDP, peer.PolicyAll)
	if err != nil {
		t.Fatal(err)
	}
	codec := negotiate(t, ctx, a, b, []media.Codec{media.PCMU}, []media.Codec{media.PCMU})
	var toA, toB switcher
	a.OnRTP(toA.onRTP)
	b.OnRTP(toB.onRTP)
	if errA, errB := connectBoth(ctx, a, b); errA != nil || errB != nil {
		t.Fatalf("Connect: %v / %v", errA, errB)
	}
	sa, sb := media.NewSender(codec, a.WriteRTP), media.NewSender(codec, b.WriteRTP)
	phase := func() {
		ca, cb := newCollector(codec, 3), newCollector(codec, 3)
		toA.cur.Store(ca)
		toB.cur.Store(cb)
		sendBoth(t, ctx, sa, sb, ca, cb)
	}
	phase()

	oldUfrag, oldPwd, err := a.LocalCredentials()
	if err != nil {
		t.Fatal(err)
	}
	offer, err := a.RestartOffer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	answer, err := b.RestartAnswer(ctx, offer)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SetRestartAnswer(answer); err != nil {
		t.Fatal(err)
	}
	ufrag, pwd, err := a.LocalCredentials()
	if err != nil {
		t.Fatal(err)
	}
	if ufrag == oldUfrag || pwd == oldPwd || len(ufrag) < 4 || len(pwd) < 22 {
		t.Fatalf("credentials after restart %q/%q (before %q/%q)", ufrag, pwd, oldUfrag, oldPwd)
	}
	if _, err := b.RestartAnswer(ctx, offer); !errors.Is(err, peer.ErrSDP) {
		t.Errorf("a second answer to the same restart offer: %v, want ErrSDP (ufrag unchanged)", err)
	}
	phase()
	if !a.Report().ICE.Connected || a.Report().ICE.Relay {
		t.Errorf("after the restart: %+v, want a direct pair again", a.Report().ICE)
	}
}
