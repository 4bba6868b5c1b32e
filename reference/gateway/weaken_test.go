package gateway

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/pion/dtls/v3"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Each weaken switch and fault is shown by what changes on the wire, never
// by reading the switch back: every test runs the same exchange against a
// hardened gateway and a weakened one.

// bridgeSetup is a gateway with a registered phone (desk2000, answering at
// once) and a browser's WebSocket (web1000).
type bridgeSetup struct {
	gw      *Gateway
	phone   *testPhone
	browser *testBrowser
}

func newBridgeSetup(ctx context.Context, t *testing.T, cfg Config) *bridgeSetup {
	t.Helper()
	gw := startGateway(ctx, t, cfg)
	phone := startPhone(t, "desk2000")
	phone.password = gw.Password(KindSIP)
	close(phone.answer)
	if res := phone.register(ctx, gw.UDPAddr(), gw.Domain()); res.StatusCode != 200 {
		t.Fatalf("phone REGISTER: %d", res.StatusCode)
	}
	browser := dialBrowser(ctx, t, gw.WSURL(), "web1000", gw.Domain())
	browser.password = gw.Password(KindWebRTC)
	// Close the gateway before the phone and browser go: its BYEs find them.
	t.Cleanup(func() { _ = gw.Close() })
	return &bridgeSetup{gw: gw, phone: phone, browser: browser}
}

func weakenedOr(weak bool, name string) Config {
	cfg := DefaultConfig()
	if weak {
		cfg.Weaken = []string{name}
	}
	return cfg
}

func modes(t *testing.T, f func(t *testing.T, weak bool)) {
	for _, weak := range []bool{false, true} {
		name := "hardened"
		if weak {
			name = "weakened"
		}
		t.Run(name, func(t *testing.T) { f(t, weak) })
	}
}

// readPhone reads RTP at the phone until a packet with sequence number
// until arrives, and returns how often each sequence number came.
func readPhone(ctx context.Context, t *testing.T, conn *net.UDPConn, until uint16) map[uint16]int {
	t.Helper()
	dl, _ := ctx.Deadline()
	_ = conn.SetReadDeadline(dl)
	seen := map[uint16]int{}
	buf := make([]byte, 1500)
	for {
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("phone RTP: %v (seen %v)", err, seen)
		}
		var p rtp.Packet
		if p.Unmarshal(buf[:n]) != nil {
			continue
		}
		seen[p.SequenceNumber]++
		if p.SequenceNumber == until {
			return seen
		}
	}
}

// A replayed SRTP packet from the browser comes out at the phone only
// when replay protection is weakened.
func TestWeakenReplayProtection(t *testing.T) {
	modes(t, func(t *testing.T, weak bool) {
		ctx := deadline(t, 10*time.Second)
		s := newBridgeSetup(ctx, t, weakenedOr(weak, WeakenReplayProtection))
		peer := newCallingPeer(ctx, t)
		placeCall(ctx, t, s.browser, peer)
		receive(ctx, t, s.phone.media, "the gateway's RTP address")
		const seq0 = 100
		for i := range 5 {
			if err := peer.track.WriteRTP(marked(seq0, i, "browser")); err != nil {
				t.Fatal(err)
			}
		}
		readPhone(ctx, t, s.phone.rtp, seq0+4)
		replayed, err := peer.obs.replay()
		if err != nil {
			t.Fatal(err)
		}
		if err := peer.track.WriteRTP(marked(seq0, 5, "browser")); err != nil {
			t.Fatal(err)
		}
		seen := readPhone(ctx, t, s.phone.rtp, seq0+5)
		if got := seen[replayed]; got != map[bool]int{false: 0, true: 1}[weak] {
			t.Errorf("replayed packet %d came out %d more times at the phone (weakened=%v)", replayed, got, weak)
		}
	})
}

// A browser whose DTLS certificate does not match its SDP fingerprint is
// torn down, unless the fingerprint check is weakened: then its call
// connects and carries media.
func TestWeakenFingerprintCheck(t *testing.T) {
	modes(t, func(t *testing.T, weak bool) {
		ctx := deadline(t, 10*time.Second)
		s := newBridgeSetup(ctx, t, weakenedOr(weak, WeakenFingerprintCheck))
		liar := newCallingPeer(ctx, t)
		d := newDialog("desk2000")
		got := s.browser.invite(ctx, t, d, s.browser.aor("desk2000"), []byte(otherFingerprint(t, liar.offer)))
		final := got[len(got)-1]
		if final.StatusCode != 200 {
			t.Fatalf("INVITE: got %s, want 200", statuses(got))
		}
		if err := liar.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(final.Body())}); err != nil {
			t.Fatal(err)
		}
		if !weak {
			receive(ctx, t, s.browser.byes, "BYE at the browser after the certificate check failed")
			receive(ctx, t, s.phone.byes, "BYE at the phone after the certificate check failed")
			return
		}
		receive(ctx, t, liar.connected, "DTLS with a mismatched certificate")
		gwRTP := receive(ctx, t, s.phone.media, "the gateway's RTP address")
		exchangeMedia(ctx, t, liar.track, liar.fromGateway, s.phone.rtp, gwRTP)
	})
}

// A browser offering only a CBC suite, or DTLS without the extended master
// secret, fails its handshake with a hardened gateway and completes it with
// one whose strong-dtls is weakened; the suite shows in the ServerHello.
func TestWeakenStrongDTLS(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tweak func(*webrtc.SettingEngine)
		suite uint16
	}{
		{"cbc suite", func(se *webrtc.SettingEngine) {
			se.SetDTLSCipherSuites(dtls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA)
		}, uint16(dtls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA)},
		{"no extended master secret", func(se *webrtc.SettingEngine) {
			se.SetDTLSExtendedMasterSecret(dtls.DisableExtendedMasterSecret)
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			modes(t, func(t *testing.T, weak bool) {
				ctx := deadline(t, 10*time.Second)
				s := newBridgeSetup(ctx, t, weakenedOr(weak, WeakenStrongDTLS))
				peer := newCallingPeer(ctx, t, tc.tweak)
				got := s.browser.invite(ctx, t, newDialog("desk2000"), s.browser.aor("desk2000"), []byte(peer.offer))
				final := got[len(got)-1]
				if final.StatusCode != 200 {
					t.Fatalf("INVITE: got %s, want 200", statuses(got))
				}
				if err := peer.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(final.Body())}); err != nil {
					t.Fatal(err)
				}
				if !weak {
					receive(ctx, t, s.browser.byes, "BYE at the browser after the handshake failed")
					if seen, _, _ := peer.obs.hello(); seen {
						t.Error("a hardened gateway sent a ServerHello")
					}
					if got := metricValue(t, s.gw, "gauntlet_gateway_dtls_failures_total"); got < 1 {
						t.Errorf("dtls_failures_total %v after a failed handshake", got)
					}
					return
				}
				receive(ctx, t, peer.connected, "DTLS with the weak parameters")
				if seen, suite, _ := peer.obs.hello(); !seen || (tc.suite != 0 && suite != tc.suite) {
					t.Errorf("ServerHello seen=%v suite=%#04x, want %#04x", seen, suite, tc.suite)
				}
			})
		})
	}
}

// REGISTER without credentials is challenged (SHA-256 offered before MD5)
// unless digest is weakened: then it is registered at once.
func TestWeakenDigest(t *testing.T) {
	modes(t, func(t *testing.T, weak bool) {
		ctx := deadline(t, 10*time.Second)
		gw := startGateway(ctx, t, weakenedOr(weak, WeakenDigest))
		b := dialBrowser(ctx, t, gw.WSURL(), "web1000", gw.Domain())
		got := b.transact(ctx, t, b.request(sip.REGISTER, newDialog("web1000"), sip.Uri{Scheme: "sip", Host: gw.Domain()}, nil))
		final := got[len(got)-1]
		if weak {
			if final.StatusCode != 200 {
				t.Fatalf("REGISTER without credentials: %d, want 200 with digest weakened", final.StatusCode)
			}
			return
		}
		if final.StatusCode != 401 {
			t.Fatalf("REGISTER without credentials: %d, want 401", final.StatusCode)
		}
		var algs []string
		for _, h := range final.GetHeaders("WWW-Authenticate") {
			_, rest, _ := strings.Cut(h.Value(), "algorithm=")
			alg, _, _ := strings.Cut(rest, ",")
			algs = append(algs, alg)
		}
		if !slices.Equal(algs, []string{"SHA-256", "MD5"}) {
			t.Errorf("challenges offer %v, want SHA-256 then MD5", algs)
		}
	})
}

// A REGISTER flood from one source is answered 503 with Retry-After beyond
// the limit (never 429); with rate-limit weakened nothing is throttled. The
// WebSocket upgrade flood gets HTTP 429 with Retry-After likewise.
func TestWeakenRateLimit(t *testing.T) {
	modes(t, func(t *testing.T, weak bool) {
		ctx := deadline(t, 10*time.Second)
		cfg := weakenedOr(weak, WeakenRateLimit)
		cfg.RateLimit.RegisterPerSource = Rate{PerSecond: 1, Burst: 5}
		cfg.RateLimit.WSUpgradePerSource = Rate{PerSecond: 1, Burst: 3}
		gw := startGateway(ctx, t, cfg)
		b := dialBrowser(ctx, t, gw.WSURL(), "web1000", gw.Domain())
		counts := map[int]int{}
		for range 20 {
			got := b.transact(ctx, t, b.request(sip.REGISTER, newDialog("web1000"), sip.Uri{Scheme: "sip", Host: gw.Domain()}, nil))
			final := got[len(got)-1]
			counts[final.StatusCode]++
			if final.StatusCode == 503 && final.GetHeader("Retry-After") == nil {
				t.Error("503 without Retry-After")
			}
		}
		if counts[429] != 0 {
			t.Errorf("SIP 429 sent %d times: 429 means Provide Referrer Identity", counts[429])
		}
		if weak && counts[503] != 0 || !weak && (counts[503] < 10 || counts[401] < 5) {
			t.Errorf("REGISTER answers %v (weakened=%v)", counts, weak)
		}
		upgrades := map[int]int{}
		for range 8 {
			upgrades[wsUpgradeStatus(ctx, t, gw.WSURL())]++
		}
		// The browser's own upgrade took one of the 3 tokens already.
		if weak && upgrades[101] != 8 || !weak && (upgrades[101] < 2 || upgrades[429] < 5) {
			t.Errorf("upgrade answers %v (weakened=%v)", upgrades, weak)
		}
	})
}

// An offer with only an MD5 fingerprint is refused (488) unless the SDP
// checks are weakened.
func TestWeakenSDPChecks(t *testing.T) {
	modes(t, func(t *testing.T, weak bool) {
		ctx := deadline(t, 10*time.Second)
		s := newBridgeSetup(ctx, t, weakenedOr(weak, WeakenSDPChecks))
		peer := newCallingPeer(ctx, t)
		i := strings.Index(peer.offer, "a=fingerprint:sha-256 ")
		j := strings.Index(peer.offer[i:], "\r\n")
		md5 := peer.offer[:i] + "a=fingerprint:md5 " + strings.Repeat("AB:", 15) + "AB" + peer.offer[i+j:]
		got := s.browser.invite(ctx, t, newDialog("desk2000"), s.browser.aor("desk2000"), []byte(md5))
		want := map[bool]int{false: 488, true: 200}[weak]
		if final := got[len(got)-1]; final.StatusCode != want {
			t.Errorf("INVITE with an MD5 fingerprint: %s, want %d", statuses(got), want)
		}
	})
}

// The drop-media fault on every call drops the callee's audio toward the
// caller and keeps the other direction, and the gateway lists the call as
// hit (both legs' Call-IDs, both users, the direction); its seed decides
// which calls it hits, the same way every time.
func TestFaultDropMedia(t *testing.T) {
	ctx := deadline(t, 10*time.Second)
	cfg := DefaultConfig()
	cfg.Faults = []Fault{{Name: FaultDropMedia, Direction: DirCalleeToCaller, Share: 1, Seed: 3}}
	s := newBridgeSetup(ctx, t, cfg)
	if hits := s.gw.Faulted(); len(hits) != 0 {
		t.Fatalf("hits before any call: %+v", hits)
	}
	peer := newCallingPeer(ctx, t)
	d, _ := placeCall(ctx, t, s.browser, peer)
	gwRTP := receive(ctx, t, s.phone.media, "the gateway's RTP address")
	atPhone := receive(ctx, t, s.phone.calls, "the call at the phone")
	want := FaultHit{Call: 0, Fault: FaultDropMedia, Direction: DirCalleeToCaller, Caller: "web1000", Callee: "desk2000",
		CallerCallID: d.callID, CalleeCallID: atPhone.InviteRequest.CallID().Value()}
	if hits := s.gw.Faulted(); len(hits) != 1 || hits[0] != want || want.CallerCallID == want.CalleeCallID {
		t.Errorf("Faulted() = %+v, want [%+v]", hits, want)
	}
	const n = 30
	for i := range n {
		raw, err := marked(60000, i, "phone").Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.phone.rtp.WriteToUDP(raw, gwRTP); err != nil {
			t.Fatal(err)
		}
		if err := peer.track.WriteRTP(marked(1000, i, "browser")); err != nil {
			t.Fatal(err)
		}
	}
	seen := readPhone(ctx, t, s.phone.rtp, 1000+n-1)
	if len(seen) < n/2 {
		t.Errorf("caller to callee: %d of %d packets, want them relayed", len(seen), n)
	}
	if got := len(peer.fromGateway); got != 0 {
		t.Errorf("callee to caller: %d packets arrived, want none (dropped by the fault)", got)
	}
}

func TestFaultHitsAreSeeded(t *testing.T) {
	f := Fault{Name: FaultDropMedia, Direction: DirCallerToCallee, Share: 0.3, Seed: 42}
	hits := func(f Fault) []uint64 {
		var out []uint64
		for n := range uint64(1000) {
			if f.hits(n) {
				out = append(out, n)
			}
		}
		return out
	}
	a, b := hits(f), hits(f)
	if !slices.Equal(a, b) {
		t.Fatal("the same seed hit different calls")
	}
	if len(a) < 250 || len(a) > 350 {
		t.Errorf("share 0.3 hit %d of 1000 calls", len(a))
	}
	f.Seed = 43
	if slices.Equal(a, hits(f)) {
		t.Error("another seed hit the same calls")
	}
	for _, share := range []float64{0, 1} {
		f.Share = share
		if got := len(hits(f)); got != int(share*1000) {
			t.Errorf("share %v hit %d of 1000", share, got)
		}
	}
}

// wsUpgradeStatus opens a WebSocket upgrade and returns the HTTP status.
func wsUpgradeStatus(ctx context.Context, t *testing.T, url string) int {
	t.Helper()
	host := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/")
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n", host)
	buf := make([]byte, 512)
	dl, _ := ctx.Deadline()
	_ = c.SetReadDeadline(dl)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("upgrade response: %v", err)
	}
	var status int
	if _, err := fmt.Sscanf(string(buf[:n]), "HTTP/1.1 %d", &status); err != nil {
		t.Fatalf("upgrade response %q", buf[:n])
	}
	if status == 429 && !strings.Contains(string(buf[:n]), "Retry-After:") {
		t.Error("429 without Retry-After")
	}
	return status
}
